"""sinkgan.joblog: a sitting's printed lines appended to a file as well as printed."""
import sys

from sinkgan.joblog import appended_to, unlogged


def test_appended_to_copies_stdout_and_stderr_and_restores_them(tmp_path, capsys):
    log = tmp_path / "logs" / "run.log"
    log.parent.mkdir()
    log.write_text("an earlier sitting\n")
    with appended_to(log, "== header =="):
        print("to stdout")
        print("to stderr", file=sys.stderr)
        assert unlogged(sys.stderr) is not sys.stderr  # a progress bar's stream: the terminal only
    print("after the block")
    assert log.read_text() == "an earlier sitting\n== header ==\nto stdout\nto stderr\n"
    seen = capsys.readouterr()
    assert seen.out == "to stdout\nafter the block\n" and seen.err == "to stderr\n"
    assert unlogged(sys.stderr) is sys.stderr


def test_a_line_is_in_the_file_before_the_block_ends(tmp_path):
    """Line-buffered: a sitting killed with SIGKILL keeps every line it printed."""
    log = tmp_path / "run.log"
    with appended_to(log, "== header =="):
        print("progress line")
        assert log.read_text() == "== header ==\nprogress line\n"
