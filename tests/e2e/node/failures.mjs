// Every refusal of the link flow, seen through @nangohq/frontend's auth() (AuthError type and
// message) and @nangohq/node; afterwards nothing may be stored.
import Frontend from '@nangohq/frontend';
import { backend, demo, done, failure, host, integration } from './common.mjs';

const nango = backend();
const out = {};

async function session(extra = {}) {
    const { data } = await nango.createConnectSession({ end_user: { id: 'e2e-failures' }, ...extra });
    return data.token;
}

async function attempt(token, credentials, key = integration) {
    const frontend = new Frontend({ host, connectSessionToken: token });
    try {
        const result = await frontend.auth(key, { credentials });
        return { ok: true, result };
    } catch (err) {
        return { ok: false, type: err.type, message: err.message };
    }
}

const cases = {
    blankUsername: { ...demo, username: '   ' },
    badEmail: { ...demo, username: 'not-an-email' },
    blankPassword: { ...demo, password: '' },
    orgWithout008: { ...demo, organization_id: '00601' + demo.organization_id.slice(5) },
    blankDevKey: { ...demo, dev_key: '' },
    wrongPassword: { ...demo, password: 'wrong-' + demo.password },
    wrongDevKey: { ...demo, dev_key: 'WRONGKEY' + demo.dev_key.slice(8) }
};
for (const [name, credentials] of Object.entries(cases)) {
    out[name] = await attempt(await session(), credentials);
}

out.notAllowed = await attempt(await session({ allowed_integrations: ['bill'] }), demo);
out.unknownIntegration = await attempt(await session(), demo, 'quickbooks');
out.unreachable = await attempt(await session(), demo, 'bill');
out.unknownToken = await attempt('nango_connect_session_' + '0'.repeat(64), demo);

const ended = await session();
await fetch(`${host}/connect/session`, { method: 'DELETE', headers: { Authorization: `Bearer ${ended}` } });
out.endedToken = await attempt(ended, demo);

try {
    new Frontend({ host }).auth(integration, { credentials: demo });
    out.missingToken = { ok: true };
} catch (err) {
    out.missingToken = { ok: false, type: err.type };
}

out.badSecretKey = await failure(new (nango.constructor)({ host, secretKey: 'not-the-key' }).listConnections());
out.invalidSessionBody = await failure(nango.createConnectSession({ end_user: { id: '' } }));
out.unknownConnection = await failure(nango.getConnection(integration, 'no-such-connection'));
out.list = await nango.listConnections();

done(out);
