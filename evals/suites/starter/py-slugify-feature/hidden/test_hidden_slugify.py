import unittest

from text_utils import slugify


class TestSlugify(unittest.TestCase):
    def test_words(self):
        self.assertEqual(slugify("Hello, World!"), "hello-world")

    def test_accents(self):
        self.assertEqual(slugify("Café crème brûlée"), "cafe-creme-brulee")

    def test_edges(self):
        self.assertEqual(slugify("  --Already--slugged--  "), "already-slugged")
        self.assertEqual(slugify("v2.0 release"), "v2-0-release")
        self.assertEqual(slugify("!!!"), "")
