"""Session-wide reporting: the smoke DAG's wall time is printed in the closing summary (CI reads it)."""


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    for line in getattr(config, "sinkgan_timings", []):
        terminalreporter.write_line(line)
