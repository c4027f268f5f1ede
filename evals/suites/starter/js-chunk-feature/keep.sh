node --test arrays.test.js
