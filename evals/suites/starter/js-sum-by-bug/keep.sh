node --test stats.test.js
