"""Analytics over session logs: the reader, the metrics summary, the lifecycle audit, HTML reports."""
