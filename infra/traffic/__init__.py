"""Traffic control at runtime: status, shift, promote, rollback and canary over pluggable backends."""
