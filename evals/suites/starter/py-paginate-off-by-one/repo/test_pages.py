import unittest

from pages import page_count, paginate


class TestPages(unittest.TestCase):
    def test_first_page(self):
        self.assertEqual(paginate(list(range(10)), 1, 3), [0, 1, 2])

    def test_second_page(self):
        self.assertEqual(paginate(list(range(10)), 2, 3), [3, 4, 5])

    def test_page_count(self):
        self.assertEqual(page_count(list(range(10)), 3), 4)
