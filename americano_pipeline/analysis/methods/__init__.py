"""The four protocol analyses, one module each: each turns a protocol's data into an ``Analysis`` (``base``: JSON
result, recorded settings, key numbers, a markdown summary and its figures), calling the statistics core exactly
once per method. The settings have no defaults here: the Dagster config classes hold them (one place), and the
statistics core documents what each means. A new method is a new module here, exported below.
"""

from americano_pipeline.analysis.methods.base import Analysis
from americano_pipeline.analysis.methods.change_points import CHANGE_POINTS, analyse_change_points
from americano_pipeline.analysis.methods.its import ITS, analyse_its
from americano_pipeline.analysis.methods.randomization import RANDOMIZATION, analyse_randomization
from americano_pipeline.analysis.methods.sequential import SEQUENTIAL, analyse_sequential

__all__ = ["Analysis", "CHANGE_POINTS", "ITS", "RANDOMIZATION", "SEQUENTIAL",
           "analyse_change_points", "analyse_its", "analyse_randomization", "analyse_sequential"]
