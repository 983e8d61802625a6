# Sourced by scripts/bench (bin, runs set): generate against the seed's CDK synth (~1.9 s, 177 MB, measured with `python app.py`).
printf 'AIRFLOW_FERNET_KEY_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:f-AbCdEf\nAIRFLOW_ADMIN_PASSWORD_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:a-AbCdEf\nAIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN=arn:aws:secretsmanager:us-east-1:123456789012:secret:w-AbCdEf\n' >"${TMPDIR:-/tmp}/fairflow-bench.env"
python3 scripts/lib/bench.py --runs "$runs" --title "generate --ha --autoscaling (the seed's CDK synth: about 1.9 s and 177 MB)" \
  --name "fairflow generate --ha --autoscaling" -- "$bin" generate --env "${TMPDIR:-/tmp}/fairflow-bench.env" --ha --autoscaling -o "${TMPDIR:-/tmp}/fairflow-bench.json" \
  --name "fairflow --version" -- "$bin" --version
