"""The Dagster and MLflow UIs, served for real and read in a headless Chromium (Debian's chromium and
chromium-driver), plus the Dagster GraphQL API, over a graph materialized by `americano demo`.

Only the processes the test starts are stopped (each runs in its own session and its group is signalled).
Screenshots land in data/screenshots/ of the project for a human to look at.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

from americano_pipeline import settings
from americano_pipeline.source.connection import connect
from tests.support import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOTS = settings.PROJECT_ROOT / "data" / "screenshots"
BIN = Path(sys.executable).parent
ASSETS_QUERY = """
{ assetNodes { assetKey { path } groupName partitionKeys
               assetMaterializations(limit: 1) { partition runId } } }
"""
CHECKS_QUERY = """
{ assetNodeOrError(assetKey: {path: ["raw", "behavioral_events"]}) {
    ... on AssetNode { assetChecksOrError { ... on AssetChecks { checks {
        name blocking executionForLatestMaterialization { status } } } } } } }
"""


class Server(NamedTuple):
    url: str
    port: int


@pytest.fixture(scope="module")
def deployment(pg_cluster, seeded_template, tmp_path_factory) -> dict:
    """A study database, a Dagster home with the checked-in dagster.yaml, and the graph materialized in it."""
    name = "browser_study"
    with connect(pg_cluster.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{seeded_template}"')
    root = tmp_path_factory.mktemp("uis")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(settings.PROJECT_ROOT / "data" / "dagster_home" / "dagster.yaml", home)
    env = {**os.environ, "AMERICANO_DATABASE_URL": pg_cluster.url(name), "AMERICANO_DATA_DIR": str(root / "data"),
           "DAGSTER_HOME": str(home)}
    env.pop("MLFLOW_TRACKING_URI", None)
    demo = subprocess.run([str(BIN / "americano"), "demo"], env=env, capture_output=True, text=True, timeout=900,
                          cwd=settings.PROJECT_ROOT)
    assert "analysis run" in demo.stdout, demo.stdout[-3000:] + demo.stderr[-3000:]
    return env


def _wait_for(url: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@contextmanager
def served(command: list[str], env: dict, ready_path: str, port: int):
    """Start ``command`` in its own session, wait for ``ready_path``, and stop that session's processes after."""
    log = open(Path(env["AMERICANO_DATA_DIR"]) / f"server-{port}.log", "w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               cwd=settings.PROJECT_ROOT)
    try:
        _wait_for(f"http://127.0.0.1:{port}{ready_path}")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6, hex as the kernel has it)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.fixture(scope="module")
def dagster_ui(deployment):
    """`make ui` as the README gives it (dagster dev: webserver and daemon), on a free port."""
    port = free_port()
    with served(["make", "--no-print-directory", "ui", f"UI_PORT={port}"], deployment, "/server_info", port) as base:
        yield Server(base, port)


@pytest.fixture(scope="module")
def mlflow_ui(deployment):
    """`make mlflow-ui` over the deployment's store, on a free port."""
    port = free_port()
    with served(["make", "--no-print-directory", "mlflow-ui", f"MLFLOW_PORT={port}"], deployment, "/health",
                port) as base:
        yield Server(base, port)


def test_both_uis_listen_on_loopback_only(dagster_ui, mlflow_ui):
    for server in (dagster_ui, mlflow_ui):
        assert listening_addresses(server.port) == {"0100007F"}, server  # 127.0.0.1, nothing on 0.0.0.0 or ::


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("headless Chromium is missing: apt-get install chromium chromium-driver (.ci/run does this)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     "--disable-background-networking", "--window-size=1600,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def page_showing(browser, url: str, *texts: str, screenshot: str, seconds: float = 60) -> str:
    """Open ``url``, wait until the rendered page shows every one of ``texts``, save a screenshot; the page text."""
    from selenium.webdriver.common.by import By

    browser.get(url)
    deadline = time.monotonic() + seconds
    while True:
        for button in browser.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
            button.click()  # Dagster's first-visit "join the community" dialog covers the page
        body = browser.find_element(By.TAG_NAME, "body").text
        if all(text in body for text in texts):
            break
        if time.monotonic() > deadline:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            browser.save_screenshot(str(SCREENSHOTS / f"FAILED-{screenshot}"))
            missing = [text for text in texts if text not in body]
            raise AssertionError(f"{url} never showed {missing}; it shows: {body[:1500]}")
        time.sleep(0.5)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / screenshot))
    return body


def graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]


def protocol_ids(deployment) -> list[str]:
    with connect(deployment["AMERICANO_DATABASE_URL"]) as conn:
        return [row[0] for row in conn.execute('SELECT id FROM experiment_protocols ORDER BY "startDate", id')]


def test_graphql_lists_every_asset_its_partitions_and_latest_materialization(dagster_ui, deployment):
    nodes = {"/".join(n["assetKey"]["path"]): n for n in graphql(dagster_ui.url, ASSETS_QUERY)["assetNodes"]}
    assert {"raw/behavioral_events", "fct_protocol_daily_outcomes", "analysis/its_result",
            "analysis/randomization_result"} <= set(nodes)
    assert {nodes[key]["groupName"] for key in ("raw/behavioral_events", "dim_protocols", "analysis/its_result")} \
        == {"raw", "warehouse", "analysis"}
    ids = protocol_ids(deployment)
    assert nodes["analysis/randomization_result"]["partitionKeys"] == ids
    [latest] = nodes["analysis/randomization_result"]["assetMaterializations"]
    assert latest["partition"] in ids and latest["runId"]
    assert nodes["raw/behavioral_events"]["assetMaterializations"][0]["partition"] is None
    checks = graphql(dagster_ui.url, CHECKS_QUERY)["assetNodeOrError"]["assetChecksOrError"]["checks"]
    assert [(c["name"], c["blocking"], c["executionForLatestMaterialization"]["status"]) for c in checks] == \
        [("freshness_check", False, "SUCCEEDED"), ("pandera_schema", True, "SUCCEEDED")]


def test_the_asset_catalog_and_lineage_render_every_layer(dagster_ui, browser):
    page_showing(browser, f"{dagster_ui.url}/assets", "analysis", "raw", "fct_protocol_daily_outcomes",
                 screenshot="dagster-assets.png")
    body = page_showing(browser, f"{dagster_ui.url}/asset-groups", "Global asset lineage", "analysis", "warehouse",
                        screenshot="dagster-lineage.png")
    assert "Join the Dagster community" not in body


def test_an_analysis_asset_shows_its_protocol_partitions(dagster_ui, browser, deployment):
    ids = protocol_ids(deployment)
    page_showing(browser, f"{dagster_ui.url}/assets/analysis/randomization_result?view=partitions", *ids,
                 screenshot="dagster-randomization-partitions.png")
    page_showing(browser, f"{dagster_ui.url}/assets/analysis/randomization_result?view=partitions&partition={ids[0]}",
                 "p_value", "mlflow_run_id", "plot_randomization", "summary",
                 screenshot="dagster-randomization-partition-result.png")


def test_the_snapshot_check_is_shown_as_passed(dagster_ui, browser):
    body = page_showing(browser, f"{dagster_ui.url}/assets/raw/behavioral_events?view=checks", "pandera_schema",
                        screenshot="dagster-snapshot-checks.png")
    assert "Passed" in body or "Succeeded" in body


def test_mlflow_lists_the_protocol_runs_of_each_analysis(mlflow_ui, browser, deployment):
    request = urllib.request.Request(f"{mlflow_ui.url}/api/2.0/mlflow/experiments/search",
                                     data=json.dumps({"max_results": 100}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        experiments = {e["name"]: e["experiment_id"] for e in json.loads(response.read())["experiments"]}
    assert {"raw_snapshot", "warehouse", "analysis/randomization_result", "analysis/its_result"} <= set(experiments)
    ids = protocol_ids(deployment)
    body = page_showing(browser, f"{mlflow_ui.url}/#/experiments/{experiments['analysis/randomization_result']}/runs",
                        *ids, screenshot="mlflow-randomization-runs.png")
    assert "randomization_result" in body
