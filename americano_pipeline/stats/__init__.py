"""Pure statistics for n-of-1 designs: no Dagster imports, numpy/pandas in, frozen dataclasses out."""
