// A Node.js http front for weft's parent tests (callback style, no await):
// per request it calls the backend (GET same path) and answers after the
// backend's response. MODE says from where the call is made:
//   timer   (default) a timer callback, http.get with the default keep-alive agent
//   direct  the request handler itself, http.get
//   net     a timer callback, a raw HTTP/1.1 request on a new net.Socket
//   nested  a timer set in a timer callback, http.get (two JavaScript-only
//           resources between the request and the call)
// No tracing library; the client's headers are not forwarded, so the
// traceparent the backend sees is weft's.
//   node timer_front.js PORT BACKEND_PORT READY_FILE [MODE]
'use strict';
const http = require('http');
const net = require('net');
const fs = require('fs');
const [port, next, ready, mode = 'timer'] = process.argv.slice(2);

function viaHttp(req, res) {
	http.get({ host: '127.0.0.1', port: Number(next), path: req.url }, (br) => {
		let body = '';
		br.on('data', (d) => { body += d; });
		br.on('end', () => res.end('front ' + br.statusCode + ' ' + body));
	}).on('error', (e) => { res.statusCode = 502; res.end(String(e)); });
}

function viaNet(req, res) {
	const s = net.connect(Number(next), '127.0.0.1', () => {
		s.write('GET ' + req.url + ' HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n');
	});
	let body = '';
	s.on('data', (d) => { body += d; });
	s.on('end', () => res.end('front ' + body.split('\r\n')[0]));
	s.on('error', (e) => { res.statusCode = 502; res.end(String(e)); });
}

const handlers = {
	timer: (req, res) => setTimeout(() => viaHttp(req, res), 1),
	direct: viaHttp,
	net: (req, res) => setTimeout(() => viaNet(req, res), 1),
	nested: (req, res) => setTimeout(() => setTimeout(() => viaHttp(req, res), 1), 1),
};
http.createServer(handlers[mode])
	.listen(Number(port), '127.0.0.1', () => fs.writeFileSync(ready, ''));
