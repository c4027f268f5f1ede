node --test hidden_chunk.test.js
