"""The stage pattern: one MLflow run per stage, GX gates, outputs published whole (temp path -> gate -> rename)."""
