// The whole journey with Nango's official clients: connect session, link (frontend auth()),
// get, list, proxy GET and POST (also with an Idempotency-Key), paging through every vendor, forced
// refresh, metadata, delete.
import Frontend from '@nangohq/frontend';
import { backend, demo, done, failure, host, integration } from './common.mjs';

const nango = backend();
const out = {};

// The SDK returns the body, {data: {token, connect_link, expires_at}}.
const { data: session } = await nango.createConnectSession({
    end_user: { id: 'e2e-user', email: 'e2e@example.com', display_name: 'E2E User' },
    allowed_integrations: [integration]
});
out.session = { tokenShape: /^nango_connect_session_[0-9a-f]{64}$/.test(session.token), connect_link: session.connect_link };

const frontend = new Frontend({ host, connectSessionToken: session.token });
const linked = await frontend.auth(integration, { credentials: demo });
out.linked = linked;
const connectionId = linked.connectionId;

const connection = await nango.getConnection(integration, connectionId);
out.connection = connection;
out.token = await nango.getToken(integration, connectionId);

out.list = await nango.listConnections();
out.listFiltered = await nango.listConnections({ userId: 'e2e-user', integrationId: integration });
out.integrations = await nango.listIntegrations();
out.integration = await nango.getIntegration({ uniqueKey: integration });

const ids = { connectionId, providerConfigKey: integration };
const firstPage = await nango.get({ endpoint: '/v3/vendors', params: { max: '5' }, ...ids });
out.firstPage = { status: firstPage.status, count: firstPage.data.results.length, contentType: firstPage.headers['content-type'] };

const created = await nango.post({
    endpoint: '/v3/vendors',
    data: { name: 'E2E Supplies Inc', accountType: 'BUSINESS', email: 'ap@e2e-supplies.example.com', phone: '5550100' },
    ...ids
});
out.created = { status: created.status, id: created.data.id, name: created.data.name };

const seen = [];
let page;
let pages = 0;
do {
    const params = { max: '50' };
    if (page) params.page = page;
    const response = await nango.get({ endpoint: '/v3/vendors', params, ...ids });
    seen.push(...response.data.results.map((vendor) => vendor.id));
    page = response.data.nextPage;
    pages += 1;
} while (page && pages < 100);
out.paging = { pages, ids: seen };

// A create retried with the same Idempotency-Key (the SDK sends it as Nango-Proxy-Idempotency-Key).
const keyed = {
    endpoint: '/v3/vendors',
    data: { name: 'E2E Once Ltd', accountType: 'BUSINESS', email: 'ap@e2e-once.example.com', phone: '5550101' },
    headers: { 'Idempotency-Key': 'e2e-create-once-1' },
    ...ids
};
const keyedAnswers = [await nango.post(keyed), await nango.post(keyed)];
out.keyed = keyedAnswers.map((answer) => ({
    status: answer.status,
    id: answer.data.id,
    replayed: answer.headers['idempotent-replayed'] ?? null
}));

const missing = await failure(nango.get({ endpoint: '/v3/vendors/00900000000000000000', ...ids }));
out.missingVendor = { status: missing.status, code: Array.isArray(missing.data) ? missing.data[0].code : null };

const refreshed = await nango.getConnection(integration, connectionId, true);
out.refreshed = { sessionId: refreshed.credentials.session_id };
const afterRefresh = await nango.get({ endpoint: '/v3/vendors', params: { max: '1' }, ...ids });
out.afterRefresh = afterRefresh.status;

await nango.setMetadata(integration, connectionId, { plan: 'gold', seats: 3 });
await nango.updateMetadata(integration, connectionId, { seats: 5 });
out.metadata = await nango.getMetadata(integration, connectionId);
out.patched = await nango.patchConnection(
    { connectionId, provider_config_key: integration },
    { tags: { team: 'finance' } }
);
out.tagsAfterPatch = (await nango.getConnection(integration, connectionId)).tags;

const deleted = await nango.deleteConnection(integration, connectionId);
out.deleted = { status: deleted.status, data: deleted.data };
out.afterDelete = await failure(nango.getConnection(integration, connectionId));
out.deleteAgain = await failure(nango.deleteConnection(integration, connectionId));
out.listAfterDelete = await nango.listConnections();

done(out);
