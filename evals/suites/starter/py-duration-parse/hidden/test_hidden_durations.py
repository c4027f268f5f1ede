import unittest

from durations import parse_duration


class TestHiddenDurations(unittest.TestCase):
    def test_minutes(self):
        self.assertEqual(parse_duration("45m"), 2700)

    def test_mixed(self):
        self.assertEqual(parse_duration("2h5m"), 7500)
        self.assertEqual(parse_duration("1h1m1s"), 3661)

    def test_seconds(self):
        self.assertEqual(parse_duration("90s"), 90)
