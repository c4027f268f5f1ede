import calendar
import unittest

from calendar_math import days_in_month, is_leap


class TestLeap(unittest.TestCase):
    def test_matches_the_standard_library(self):
        for year in range(1582, 2500):
            self.assertEqual(is_leap(year), calendar.isleap(year), year)

    def test_february_2000(self):
        self.assertEqual(days_in_month(2000, 2), 29)
