-- A healthy Airflow 2.11.2 database (same story as seed-3.3.2-healthy.sql, in 2.x columns).
SET FOREIGN_KEY_CHECKS=0;
INSERT INTO alembic_version VALUES ('5f2621c13b39');
INSERT INTO dag (dag_id, is_paused, max_active_tasks, max_consecutive_failed_dag_runs, has_task_concurrency_limits) VALUES
  ('etl', 0, 16, 0, 0), ('report', 1, 16, 0, 0);
INSERT INTO dag_run (dag_id, run_id, run_type, execution_date, state, start_date) VALUES
  ('etl', 'manual__1', 'manual', UTC_TIMESTAMP(6) - INTERVAL 1 HOUR, 'success', UTC_TIMESTAMP(6) - INTERVAL 1 HOUR);
INSERT INTO task_instance (task_id, dag_id, run_id, map_index, try_number, pool, pool_slots, state, queued_dttm, start_date) VALUES
  ('extract', 'etl', 'manual__1', -1, 1, 'default_pool', 1, 'success', UTC_TIMESTAMP(6) - INTERVAL 2 HOUR, UTC_TIMESTAMP(6) - INTERVAL 2 HOUR),
  ('load', 'etl', 'manual__1', -1, 1, 'default_pool', 1, 'queued', UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE, NULL),
  ('wait', 'etl', 'manual__1', -1, 1, 'default_pool', 1, 'running', UTC_TIMESTAMP(6) - INTERVAL 1 HOUR, UTC_TIMESTAMP(6) - INTERVAL 1 HOUR);
INSERT INTO job (state, job_type, latest_heartbeat, hostname) VALUES
  ('running', 'SchedulerJob', UTC_TIMESTAMP(6) - INTERVAL 5 SECOND, 'ip-10-0-1-5'),
  ('failed', 'SchedulerJob', UTC_TIMESTAMP(6) - INTERVAL 3 DAY, 'ip-10-0-2-9'),
  ('running', 'TriggererJob', UTC_TIMESTAMP(6), 'ip-10-0-1-5');
