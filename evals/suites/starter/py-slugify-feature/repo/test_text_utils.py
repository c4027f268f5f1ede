import unittest

from text_utils import truncate


class TestTruncate(unittest.TestCase):
    def test_short(self):
        self.assertEqual(truncate("abc", 5), "abc")

    def test_cut(self):
        self.assertEqual(truncate("abcdef", 4), "abc…")
