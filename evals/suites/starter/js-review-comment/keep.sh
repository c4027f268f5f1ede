node --test money.test.js
