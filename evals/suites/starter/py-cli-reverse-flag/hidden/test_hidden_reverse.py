import unittest

from test_sortlines import run


class TestReverse(unittest.TestCase):
    def test_long_flag(self):
        self.assertEqual(run("--reverse", stdin="b\na\nc\n"), (0, "c\nb\na\n"))

    def test_short_flag_with_unique(self):
        self.assertEqual(run("-r", "-u", stdin="a\nb\na\n"), (0, "b\na\n"))
