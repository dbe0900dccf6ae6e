"""Every fenced block of the README, the client's README and docs/ is run or checked by a named
test: a block added without one, a block no entry finds any more, or an entry naming a test
that does not exist fails here.

An entry is a page, a piece of text found in exactly one of its blocks, and the tests that
check that block. The tables `make docs-reference` writes from the code need no entry:
`test_the_committed_reference_tables_are_what_the_code_generates` regenerates them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.conftest import REPO_ROOT
from tests.docs.fenced import Block, every_block


@dataclass(frozen=True)
class Checked:
    page: str
    finds: str  # text found in exactly one block of the page
    by: tuple[str, ...]  # "path::test", or "make container-test" for deploy/container-test.sh


API = "tests/docs/test_api_page.py::"
COMMANDS = "tests/docs/test_command_lines.py::"
DEPLOYMENT = "tests/docs/test_deployment_page.py::"
OPERATIONS = "tests/docs/test_operations_commands.py::"
PROMETHEUS = "tests/docs/test_operations_commands.py::"
REFERENCE = "tests/docs/test_reference_pages.py::"
SPARK = "tests/docs/test_spark_page.py::"
SUBMIT = "tests/docs/test_spark_submit.py::"
TRAINING = "tests/docs/test_training_page.py::"
CRM = "tests/e2e/test_crm_round_trip.py::test_the_round_trip_as_the_docs_show_it"
OWN_DATA = "tests/e2e/test_own_data_doc.py::"
CURL_EXAMPLES = API + "test_the_api_pages_curl_examples_answer_what_they_show"
FRONT_DOOR = API + "test_the_readme_and_getting_started_examples_answer_what_they_show"
MAKE_LINES = COMMANDS + "test_every_make_line_runs_the_recipe_the_page_describes"
RFM = OWN_DATA + "test_orders_to_served_rfm_segments_as_the_page_shows"
RETAIL = OWN_DATA + "test_a_table_with_categorical_columns_as_the_page_shows"
CLIENTS = "tests/docs/test_clients_page.py::"
CLIENTS_ERROR = CLIENTS + "test_the_mlflow_error_example_answers_as_shown"
CLIENTS_V2 = CLIENTS + "test_the_v2_client_examples_print_what_the_page_shows"
GATE = TRAINING + "test_the_gate_and_compare_example_prints_what_the_page_shows"
DOCKER = (
    DEPLOYMENT + "test_the_run_options_the_page_names_are_the_scripts",
    "make container-test",
)

CHECKED = [
    Checked("README.md", "make run ", (MAKE_LINES,)),
    Checked("README.md", "curl -s http://127.0.0.1:8000/segment", (FRONT_DOOR,)),
    Checked(
        "clients/python/README.md",
        "pip install ./clients/python",
        (COMMANDS + "test_the_client_install_line_installs_the_client_distribution",),
    ),
    Checked(
        "clients/python/README.md",
        "from segment_client import SegmentationClient",
        (API + "test_the_client_readmes_example_runs_with_the_client_alone",),
    ),
    Checked("docs/api.md", "curl -s 'localhost:8000/segment?explain=true'", (CURL_EXAMPLES,)),
    Checked("docs/api.md", '"explanation": {', (CURL_EXAMPLES,)),
    Checked("docs/api.md", "curl -s 'localhost:8000/segments?version=v-nope'", (CURL_EXAMPLES,)),
    Checked("docs/api.md", '"code": "not_found"', (CURL_EXAMPLES,)),
    Checked("docs/api.md", "\\n1,19,15,39,North", (CURL_EXAMPLES,)),
    Checked("docs/api.md", '"CustomerID","Age"', (CURL_EXAMPLES,)),
    Checked("docs/api.md", "\\n1,abc,15,39", (CURL_EXAMPLES,)),
    Checked("docs/api.md", '"message": "line 2', (CURL_EXAMPLES,)),
    Checked("docs/api.md", "'content-type: application/json' \\\n", (CURL_EXAMPLES,)),
    Checked("docs/api.md", '{"model_version": "', (CURL_EXAMPLES,)),
    Checked(
        "docs/api.md",
        "import urllib.request",
        (API + "test_the_arrow_example_runs_with_the_service_install_alone",),
    ),
    Checked(
        "docs/api.md",
        "20261206T052900Z",
        (API + "test_the_arrow_example_runs_with_the_service_install_alone",),
    ),
    Checked("docs/api.md", '"age": 121', (CURL_EXAMPLES,)),
    Checked("docs/api.md", '"message": "cus', (CURL_EXAMPLES,)),
    Checked(
        "docs/architecture.md",
        "segmentation/   the contract",
        (REFERENCE + "test_every_module_the_architecture_page_names_exists",),
    ),
    Checked(
        "docs/bundle.md",
        "models/\n  CURRENT",
        (REFERENCE + "test_the_bundle_layout_is_what_training_writes",),
    ),
    Checked(
        "docs/bundle.md",
        '"feature_schema": {',
        (REFERENCE + "test_the_feature_schema_example_is_a_schema_as_a_bundle_records_it",),
    ),
    Checked(
        "docs/bundle.md",
        '"scorer": {',
        (REFERENCE + "test_the_scorer_example_is_the_default_models",),
    ),
    Checked(
        "docs/client.md",
        "from segment_client import SegmentationClient\n",
        (API + "test_the_clients_first_example_runs_with_the_client_alone",),
    ),
    Checked(
        "docs/client.md",
        "1 Young, low income",
        (API + "test_the_clients_first_example_runs_with_the_client_alone",),
    ),
    Checked(
        "docs/client.md",
        "import asyncio",
        (API + "test_the_clients_async_example_prints_what_it_shows",),
    ),
    Checked(
        "docs/client.md",
        "25000 Young",
        (API + "test_the_clients_async_example_prints_what_it_shows",),
    ),
    Checked(
        "docs/client.md",
        "except InvalidRequestError",
        (API + "test_the_clients_error_example_prints_what_it_shows_for_both_errors",),
    ),
    Checked(
        "docs/client.md",
        "customers[3].age value 150",
        (API + "test_the_clients_error_example_prints_what_it_shows_for_both_errors",),
    ),
    Checked(
        "docs/client.md",
        "service unavailable after 4 attempts",
        (API + "test_the_clients_error_example_prints_what_it_shows_for_both_errors",),
    ),
    Checked(
        "docs/client.md",
        "RetryPolicy(retries=5",
        (API + "test_the_clients_retry_example_retries_until_the_service_has_a_model",),
    ),
    Checked(
        "docs/client.md",
        "Young, high income, high spending\n",
        (API + "test_the_clients_retry_example_retries_until_the_service_has_a_model",),
    ),
    Checked(
        "docs/client.md",
        "client.segment_frame(customers_df)",
        (API + "test_the_clients_segment_frame_lines_answer_a_frame",),
    ),
    Checked(
        "docs/crm.md",
        "CREATE ROLE crm_reader",
        (
            "tests/scoring/test_database_roles.py::"
            "test_the_documented_roles_read_and_write_what_the_page_says",
        ),
    ),
    Checked(
        "docs/clients.md",
        "-SCORING_URL",
        (CLIENTS + "test_the_mlflow_switch_is_a_diff_of_one_url",),
    ),
    Checked(
        "docs/clients.md",
        "import urllib.request",
        (
            CLIENTS + "test_the_mlflow_switch_is_a_diff_of_one_url",
            CLIENTS + "test_the_mlflow_example_prints_what_the_page_shows",
        ),
    ),
    Checked(
        "docs/clients.md",
        "{'predictions': [1, 0, 3]}",
        (CLIENTS + "test_the_mlflow_example_prints_what_the_page_shows",),
    ),
    Checked("docs/clients.md", "curl -s localhost:8000/invocations", (CLIENTS_ERROR,)),
    Checked("docs/clients.md", '"error_code": "BAD_REQUEST"', (CLIENTS_ERROR,)),
    Checked("docs/clients.md", "import tritonclient.http", (CLIENTS_V2,)),
    Checked("docs/clients.md", "segments\n[1, 0, 3]", (CLIENTS_V2,)),
    Checked("docs/clients.md", "from kserve import", (CLIENTS_V2,)),
    Checked("docs/clients.md", "['atypical', 'distance'", (CLIENTS_V2,)),
    Checked("docs/crm.md", "export CRM_URL=", (CRM,)),
    Checked("docs/crm.md", "SEGMENT_MODELS_DIR=models segment-serve", (CRM,)),
    Checked("docs/crm.md", "export CRM_WRITER_URL=", (CRM,)),
    Checked("docs/crm.md", "scored 1,000,000 customers", (CRM,)),
    Checked("docs/deployment.md", "docker build -t customer-segmentation", DOCKER),
    Checked("docs/deployment.md", '-v "$PWD/models:/opt/models:ro"', DOCKER),
    Checked(
        "docs/deployment.md",
        "kubectl apply -n NAMESPACE -f deploy/k8s/",
        (DEPLOYMENT + "test_the_kubectl_lines_parse_and_name_what_the_manifests_define",),
    ),
    Checked("docs/index.md", "make run ", (MAKE_LINES,)),
    Checked("docs/index.md", "curl -s http://127.0.0.1:8000/segment", (FRONT_DOOR,)),
    Checked(
        "docs/k-selection.md",
        "make bench-k",
        (MAKE_LINES, COMMANDS + "test_the_benchmark_lines_parse_as_the_benchmark_reads_them"),
    ),
    Checked(
        "docs/operations.md",
        "export SEGMENT_API_KEYS=",
        (OPERATIONS + "test_the_authentication_block_answers_with_the_key_and_refuses_without",),
    ),
    Checked(
        "docs/operations.md",
        "head -c 5242880",
        (OPERATIONS + "test_the_body_too_large_answer_is_what_the_page_shows",),
    ),
    Checked(
        "docs/operations.md",
        '"code": "body_too_large"',
        (OPERATIONS + "test_the_body_too_large_answer_is_what_the_page_shows",),
    ),
    Checked(
        "docs/operations.md",
        '"logger": "service.requests"',
        (OPERATIONS + "test_the_request_log_line_is_what_the_server_writes",),
    ),
    Checked(
        "docs/operations.md",
        "# prometheus.yml",
        (PROMETHEUS + "test_the_scrape_config_is_valid_and_scrapes_the_service",),
    ),
    Checked(
        "docs/operations.md",
        "sum by (route)",
        (PROMETHEUS + "test_the_queries_are_valid_promql_on_served_metrics",),
    ),
    Checked(
        "docs/operations.md",
        "segment-train --data new_customers.csv",
        (OPERATIONS + "test_the_reload_block_trains_reloads_and_reloads_again_on_a_signal",),
    ),
    Checked(
        "docs/operations.md",
        "curl -s localhost:8000/drift",
        (OPERATIONS + "test_the_drift_block_answers_the_shown_report_after_unusual_customers",),
    ),
    Checked(
        "docs/operations.md",
        '"status": "drift"',
        (OPERATIONS + "test_the_drift_block_answers_the_shown_report_after_unusual_customers",),
    ),
    Checked("docs/own-data.md", "segment-train --transactions", (RFM,)),
    Checked("docs/own-data.md", "segment-score --models-dir models-rfm", (RFM,)),
    Checked("docs/own-data.md", '"customer_id": "C-1"', (RFM,)),
    Checked("docs/own-data.md", "--data data/sample_retail_customers.csv \\", (RETAIL,)),
    Checked("docs/own-data.md", "cat > retail.toml", (RETAIL,)),
    Checked("docs/own-data.md", '"customer_id": "R-1"', (RETAIL,)),
    Checked(
        "docs/scoring.md",
        "segment-score --input data/sample_customers.csv",
        ("tests/docs/test_scoring_page.py::test_the_file_example_prints_what_the_page_shows",),
    ),
    Checked(
        "docs/scoring.md",
        "scored 400 customers",
        ("tests/docs/test_scoring_page.py::test_the_file_example_prints_what_the_page_shows",),
    ),
    Checked(
        "docs/scoring.md",
        "segment-score --data postgresql+psycopg://",
        ("tests/e2e/test_crm_round_trip.py::test_the_scoring_pages_table_line_writes_back",),
    ),
    Checked(
        "docs/spark.md",
        "pip install '.[spark]'",
        (COMMANDS + "test_the_spark_install_lines_name_the_extra_and_what_make_installs",),
    ),
    Checked(
        "docs/spark.md",
        "segment-score --engine spark --data s3a://",
        (SPARK + "test_the_scoring_commands_run_with_local_paths_and_a_catalog_table",),
    ),
    Checked(
        "docs/spark.md",
        "segment-score: scoring: stage 0",
        (SPARK + "test_the_scoring_commands_run_with_local_paths_and_a_catalog_table",),
    ),
    Checked(
        "docs/spark.md",
        "segment-score: error: column 'age'",
        (SPARK + "test_bad_rows_fail_with_the_shown_message",),
    ),
    Checked(
        "docs/spark.md",
        "from scoring.spark import",
        (SPARK + "test_the_python_example_scores_a_catalog_table_into_another",),
    ),
    Checked(
        "docs/spark.md",
        "segment-train --engine spark",
        (SPARK + "test_the_training_commands_run_as_written_with_local_paths",),
    ),
    Checked(
        "docs/spark.md",
        "pip wheel --no-deps -w dist .",
        (SUBMIT + "test_the_packed_environment_commands_with_a_local_master",),
    ),
    Checked(
        "docs/spark.md",
        "spark-submit --master yarn --py-files",
        (SUBMIT + "test_the_wheel_only_command_with_a_local_master",),
    ),
    Checked(
        "docs/spark.md",
        '"python_wheel_task"',
        (SUBMIT + "test_the_databricks_task_runs_the_wheels_entry_point_with_its_parameters",),
    ),
    Checked("docs/spark.md", "make test-fast", (MAKE_LINES,)),
    Checked(
        "docs/training.md",
        "segment-train --data data/sample_customers.csv        # or:",
        (TRAINING + "test_the_first_command_trains_the_default_model",),
    ),
    Checked("docs/training.md", "  segment ids follow 20261206T081500Z", (GATE,)),
    Checked("docs/training.md", "--max-moved 0.1\n", (GATE,)),
    Checked("docs/training.md", "NOT PROMOTED:", (GATE,)),
    Checked("docs/training.md", "sample_customers.csv\nsegment-promote", (GATE,)),
    Checked("docs/training.md", "on data/sample_customers.csv: 400 customers", (GATE,)),
    Checked(
        "docs/training.md",
        "$ segment-train --data crm.csv",
        (TRAINING + "test_the_bad_data_example_prints_what_the_page_shows",),
    ),
    Checked(
        "docs/training.md",
        "--k-range 2-8",
        (TRAINING + "test_the_k_table_is_what_the_command_above_it_prints",),
    ),
    Checked(
        "docs/training.md",
        "trained 20261129T053502Z",
        (TRAINING + "test_the_k_table_is_what_the_command_above_it_prints",),
    ),
    Checked(
        "docs/training.md",
        "segments:\n",
        (TRAINING + "test_the_names_example_applies_to_the_default_model_as_written",),
    ),
    Checked(
        "docs/training.md",
        "segment-names template > names.yaml",
        (TRAINING + "test_the_names_example_applies_to_the_default_model_as_written",),
    ),
    Checked(
        "docs/training.md",
        "--features annual_income,spending_score --k 5",
        (TRAINING + "test_reproducing_the_study_finds_its_centroids_and_sizes",),
    ),
]


def checks_of(block: Block) -> list[Checked]:
    return [entry for entry in CHECKED if entry.page == block.page and entry.finds in block.text]


def test_every_block_is_checked_by_exactly_one_entry() -> None:
    blocks = [block for block in every_block() if not block.generated]
    unchecked = [str(block) for block in blocks if not checks_of(block)]
    assert unchecked == [], "add each to CHECKED with the test that runs or checks it"
    ambiguous = [str(block) for block in blocks if len(checks_of(block)) > 1]
    assert ambiguous == []
    for entry in CHECKED:
        found = [
            block for block in blocks if entry.page == block.page and entry.finds in block.text
        ]
        assert len(found) == 1, f"{entry.page}: {entry.finds!r} is in {len(found)} blocks"


def test_every_test_named_exists() -> None:
    missing = []
    for test in sorted({test for entry in CHECKED for test in entry.by}):
        if test == "make container-test":
            found = "bash deploy/container-test.sh" in (REPO_ROOT / "Makefile").read_text()
        else:
            path, name = test.split("::")
            source = (REPO_ROOT / path).read_text() if (REPO_ROOT / path).is_file() else ""
            found = re.search(rf"^(async )?def {name}\(", source, re.M) is not None
        if not found:
            missing.append(test)
    assert missing == []


def test_generated_blocks_are_the_reference_tables() -> None:
    generated = [block for block in every_block() if block.generated]
    assert {block.page for block in generated} == {"docs/training.md", "docs/reference/cli.md"}
    assert all(block.text.startswith("usage: ") for block in generated)
