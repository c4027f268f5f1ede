node --test hidden_money.test.js
