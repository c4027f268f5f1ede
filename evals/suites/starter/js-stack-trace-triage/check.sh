# The report must name the root cause (users.js reads the old field name), not only the crash site.
grep -Eq '(src/)?users\.js:6\b' "$EVAL_SUMMARY" || { echo "report does not name src/users.js:6"; exit 1; }
git diff --quiet origin/main HEAD || { echo "a triage must not change files"; exit 1; }
