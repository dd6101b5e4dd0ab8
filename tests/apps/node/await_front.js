// A Node.js http front for weft's parent tests, per request either
//   await: `await` a timer promise, then `await fetch()` the backend (GET
//          same path) and answer with its response, or
//   after: answer at once, then call the backend (http.get, the default
//          keep-alive agent) from a timer 20 ms later.
// No tracing library; the client's headers are not forwarded, so the
// traceparent the backend sees is weft's.
//   node await_front.js await|after PORT BACKEND_PORT READY_FILE
'use strict';
const http = require('http');
const fs = require('fs');
const { setTimeout: sleep } = require('timers/promises');
const [mode, port, next, ready] = process.argv.slice(2);
const backend = (path) => 'http://127.0.0.1:' + next + path;

async function awaitThenFetch(req, res) {
	await sleep(1);
	try {
		const r = await fetch(backend(req.url));
		res.end('front ' + r.status + ' ' + (await r.text()));
	} catch (e) {
		res.statusCode = 502;
		res.end(String(e));
	}
}

function answerThenCall(req, res) {
	res.end('front later\n');
	setTimeout(() => {
		http.get(backend(req.url), (br) => br.resume()).on('error', () => {});
	}, 20);
}

http.createServer(mode === 'after' ? answerThenCall : awaitThenFetch)
	.listen(Number(port), '127.0.0.1', () => fs.writeFileSync(ready, ''));
