// A webhook receiver for the end-to-end tests: every POST is checked with @nangohq/node's own
// verifyIncomingWebhookRequest (HMAC), the legacy verifyWebhookSignature, and billbridge's
// timestamped X-Billbridge-Signature (checked here with node:crypto, as a receiver in Node would),
// then recorded as one JSON line in RECORD_FILE. Prints "listening <port>" once it accepts connections.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Nango } from '@nangohq/node';

const nango = new Nango({ secretKey: process.env.SECRET_KEY });
const recordFile = process.env.RECORD_FILE;
const TOLERANCE_SECONDS = 300;

// "t=<unix>,v1=<hex HMAC-SHA256 of `${t}.${rawBody}`>", refused when t is over 5 minutes away.
function verifyStamped(raw, header, key) {
    if (!header) return false;
    const parts = Object.fromEntries(header.split(',').map((part) => part.trim().split('=', 2)));
    const t = Number(parts.t);
    if (!Number.isInteger(t) || !parts.v1) return false;
    if (Math.abs(Date.now() / 1000 - t) > TOLERANCE_SECONDS) return false;
    const expected = Buffer.from(createHmac('sha256', key).update(`${t}.${raw}`).digest('hex'));
    const given = Buffer.from(parts.v1);
    return given.length === expected.length && timingSafeEqual(given, expected);
}

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
        const stampVerified = verifyStamped(raw, req.headers['x-billbridge-signature'], process.env.SECRET_KEY);
        appendFileSync(recordFile, JSON.stringify({ verified, legacyVerified, stampVerified, body }) + '\n');
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"ok":true}');
    });
});

server.listen(0, '127.0.0.1', () => {
    console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
