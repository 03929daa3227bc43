// One step of the records end-to-end test per run, chosen by STEP, with Nango's official clients:
//   link     link the demo account (with its Spend & Expense API token) -> {connectionId}
//   wait     until every sync in SYNCS has finished a run other than AFTER[name] -> {syncs}
//   trigger  triggerSync(SYNCS) (a full refresh with FULL=1), then wait as above -> {responses, syncs}
//   busy     trigger as above while proxied calls (3 at a time, as the SDK's nango.get) keep going
//            until the runs have finished -> {responses, syncs, proxied: [status, ...]}
//   list     page listRecords for each query in QUERIES ({model, limit, filter, modifiedAfter})
//            -> {results: [{records, pages}]}, one per query, in order
// The test compares what comes back with the simulator's own records.
import { backend, demo, done, host, httpError, integration } from './common.mjs';

const nango = backend();
const connectionId = process.env.CONNECTION_ID;
const syncs = JSON.parse(process.env.SYNCS || '[]');
const after = JSON.parse(process.env.AFTER || '{}');
const mode = process.env.FULL === '1' ? ['full_refresh'] : [];
const deadline = Date.now() + Number(process.env.WAIT_SECONDS || '60') * 1000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// @nangohq/frontend's auth() forwards only BILL's four login fields; the connect UI also sends the
// optional Spend & Expense API token, so the form is posted to the same endpoint as the UI does.
async function link() {
    const { data: session } = await nango.createConnectSession({ end_user: { id: 'records-user' } });
    const credentials = { ...demo, api_token: process.env.API_TOKEN };
    const url = `${host}/auth/bill/${integration}?connect_session_token=${encodeURIComponent(session.token)}`;
    const response = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(credentials)
    });
    if (!response.ok) throw new Error(`linking answered ${response.status}: ${await response.text()}`);
    return { connectionId: (await response.json()).connectionId };
}

// The syncs in `names` that have not finished a new run yet (their statuses are kept in `seen`).
async function unfinished(names, seen) {
    const { syncs: statuses } = await nango.syncStatus(integration, names, connectionId);
    for (const status of statuses) {
        if (status.status === 'ERROR' || status.status === 'STOPPED') {
            throw new Error(`sync ${status.name} failed: ${JSON.stringify(status)}`);
        }
        if (status.status === 'SUCCESS' && status.finishedAt && status.finishedAt !== after[status.name]) {
            seen[status.name] = status;
        }
    }
    return names.filter((name) => !(name in seen));
}

async function wait(names, seen = {}, until = deadline) {
    let left = names;
    while (left.length > 0 && Date.now() < until) {
        left = await unfinished(left, seen);
        if (left.length > 0) await sleep(100);
    }
    return { left, seen };
}

async function waitAll() {
    const { left, seen } = await wait(syncs);
    if (left.length > 0) throw new Error(`no finished run of ${left.join(', ')}`);
    return { syncs: seen };
}

// A trigger that lands while the previous run is winding down (its status already SUCCESS) joins
// that run; those syncs are triggered again until a new run of each has finished.
async function trigger() {
    const responses = [];
    const seen = {};
    let left = syncs;
    while (left.length > 0 && Date.now() < deadline) {
        const response = await nango.triggerSync(integration, left, connectionId, ...mode);
        responses.push({ status: response.status, data: response.data, syncs: left });
        ({ left } = await wait(left, seen, Math.min(deadline, Date.now() + 5000)));
    }
    if (left.length > 0) throw new Error(`no new run of ${left.join(', ')} finished`);
    return { responses, syncs: seen };
}

async function proxied() {
    try {
        const response = await nango.get({
            endpoint: '/v3/vendors',
            params: { max: '5' },
            providerConfigKey: integration,
            connectionId
        });
        return response.status;
    } catch (err) {
        return httpError(err).status;
    }
}

async function busy() {
    const statuses = [];
    let running = true;
    const calls = (async () => {
        while (running) statuses.push(...(await Promise.all([proxied(), proxied(), proxied()])));
    })();
    try {
        return { ...(await trigger()), proxied: statuses };
    } finally {
        running = false;
        await calls;
    }
}

async function listAll({ model, ...params }) {
    const records = [];
    let cursor = null;
    let pages = 0;
    do {
        const page = await nango.listRecords({ connectionId, providerConfigKey: integration, model, ...params, cursor });
        records.push(...page.records);
        cursor = page.next_cursor;
        pages += 1;
    } while (cursor && pages < 10000);
    return { records, pages };
}

async function list() {
    const results = [];
    for (const query of JSON.parse(process.env.QUERIES)) results.push(await listAll(query));
    return { results };
}

const steps = { link, wait: waitAll, trigger, busy, list };
const step = steps[process.env.STEP];
if (!step) throw new Error(`unknown STEP ${process.env.STEP}`);
done(await step());
