# The report must name the root cause (config.py reads the discount as a string), not only the crash site.
grep -Eq 'shop/config\.py:7\b|config\.py:7\b' "$EVAL_SUMMARY" || { echo "report does not name config.py:7"; exit 1; }
git diff --quiet origin/main HEAD || { echo "a triage must not change files"; exit 1; }
