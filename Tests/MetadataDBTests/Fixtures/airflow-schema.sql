-- The tables fairflow's db check reads, with Airflow's MySQL column types (UtcDateTime is TIMESTAMP(6)).
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num));
CREATE TABLE dag (dag_id VARCHAR(250) NOT NULL, is_paused BOOL, is_stale BOOL, last_parsed_time TIMESTAMP(6) NULL,
  fileloc VARCHAR(2000), bundle_name VARCHAR(250), PRIMARY KEY (dag_id));
CREATE TABLE dag_run (id INTEGER NOT NULL AUTO_INCREMENT, dag_id VARCHAR(250) NOT NULL, run_id VARCHAR(250) NOT NULL,
  state VARCHAR(50), logical_date TIMESTAMP(6) NULL, start_date TIMESTAMP(6) NULL, end_date TIMESTAMP(6) NULL,
  PRIMARY KEY (id), UNIQUE KEY dag_run_dag_id_run_id_key (dag_id, run_id));
CREATE TABLE task_instance (id VARCHAR(36) NOT NULL, task_id VARCHAR(250) NOT NULL, dag_id VARCHAR(250) NOT NULL,
  run_id VARCHAR(250) NOT NULL, map_index INTEGER NOT NULL DEFAULT -1, start_date TIMESTAMP(6) NULL,
  end_date TIMESTAMP(6) NULL, state VARCHAR(20), hostname VARCHAR(1000), queued_dttm TIMESTAMP(6) NULL,
  updated_at TIMESTAMP(6) NULL, PRIMARY KEY (id), UNIQUE KEY ti_dag_run_task (dag_id, run_id, task_id, map_index));
CREATE TABLE job (id INTEGER NOT NULL AUTO_INCREMENT, dag_id VARCHAR(250), state VARCHAR(20), job_type VARCHAR(30),
  start_date TIMESTAMP(6) NULL, end_date TIMESTAMP(6) NULL, latest_heartbeat TIMESTAMP(6) NULL,
  executor_class VARCHAR(500), hostname VARCHAR(500), unixname VARCHAR(1000), PRIMARY KEY (id));

