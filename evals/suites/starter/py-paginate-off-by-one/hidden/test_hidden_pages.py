import unittest

from pages import paginate


class TestHiddenPages(unittest.TestCase):
    def test_every_item_once(self):
        items = list(range(23))
        seen = [x for p in range(1, 6) for x in paginate(items, p, 5)]
        self.assertEqual(seen, items)

    def test_last_partial_page(self):
        self.assertEqual(paginate(list(range(10)), 4, 3), [9])

    def test_past_the_end(self):
        self.assertEqual(paginate(list(range(10)), 5, 3), [])
