"""A DAG file with a broken import: Airflow must list it under import errors (airflow DAG)."""
from airflow import DAG  # noqa: F401  (the words "airflow" and "DAG" make the processor parse this file)
import fairflow_module_that_does_not_exist  # noqa: F401
