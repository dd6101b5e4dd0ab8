// A Node.js http front for weft's parent tests: per request, a timer callback
// calls the backend (GET same path, the default keep-alive agent) and the
// answer follows its response. No tracing library; the client's headers are
// not forwarded, so the traceparent the backend sees is weft's.
//   node timer_front.js PORT BACKEND_PORT READY_FILE
'use strict';
const http = require('http');
const fs = require('fs');
const [port, next, ready] = process.argv.slice(2);

http.createServer((req, res) => {
	setTimeout(() => {
		http.get({ host: '127.0.0.1', port: Number(next), path: req.url }, (br) => {
			let body = '';
			br.on('data', (d) => { body += d; });
			br.on('end', () => res.end('front ' + br.statusCode + ' ' + body));
		}).on('error', (e) => { res.statusCode = 502; res.end(String(e)); });
	}, 1);
}).listen(Number(port), '127.0.0.1', () => fs.writeFileSync(ready, ''));
