node --test hidden_sum.test.js
