// A webhook receiver for the end-to-end tests: every POST is checked with @nangohq/node's own
// verifyIncomingWebhookRequest (HMAC) and the legacy verifyWebhookSignature, then recorded as one
// JSON line in RECORD_FILE. Prints "listening <port>" once it accepts connections.
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Nango } from '@nangohq/node';

const nango = new Nango({ secretKey: process.env.SECRET_KEY });
const recordFile = process.env.RECORD_FILE;

const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        let body = null;
        try {
            body = JSON.parse(raw);
        } catch {
            body = null;
        }
        const verified = nango.verifyIncomingWebhookRequest(raw, req.headers);
        // The deprecated check prints a warning once; it is still what older clients run.
        const legacyVerified = body !== null && nango.verifyWebhookSignature(req.headers['x-nango-signature'], body);
        appendFileSync(recordFile, JSON.stringify({ verified, legacyVerified, body }) + '\n');
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"ok":true}');
    });
});

server.listen(0, '127.0.0.1', () => {
    console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
