// Syncs and records with Nango's official client: link, wait for the first vendors run, page through
// listRecords, change vendors behind billbridge's back (the simulator's control API), triggerSync,
// read the changes with filter and modifiedAfter, pause/start, frequency, and the legacy full refresh.
import Frontend from '@nangohq/frontend';
import { backend, demo, done, failure, host, integration } from './common.mjs';

const nango = backend();
const sim = process.env.SIM_URL;
const out = {};

const { data: session } = await nango.createConnectSession({ end_user: { id: 'sync-user' } });
const { connectionId } = await new Frontend({ host, connectSessionToken: session.token }).auth(integration, {
    credentials: demo
});
out.connectionId = connectionId;

async function vendorsStatus() {
    const { syncs } = await nango.syncStatus(integration, ['vendors'], connectionId);
    return syncs[0];
}

// The vendors sync's status once a run has finished (one other than `after`, if given).
async function settled(after, tries = 600) {
    for (let i = 0; i < tries; i += 1) {
        const status = await vendorsStatus();
        if (status && status.status === 'SUCCESS' && status.finishedAt && status.finishedAt !== after) {
            return status;
        }
        if (status && status.status === 'ERROR') throw new Error(`vendors failed: ${JSON.stringify(status)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return null;
}

// Trigger until a new run has finished: a trigger that arrives while the previous run is still
// winding down (its status already SUCCESS) joins that run instead of queueing another.
async function triggered(after, ...mode) {
    for (let attempt = 0; attempt < 20; attempt += 1) {
        const response = await nango.triggerSync(integration, ['vendors'], connectionId, ...mode);
        const status = await settled(after, 50);
        if (status) return { response, status };
    }
    throw new Error('no new vendors run finished');
}

async function listAll(params) {
    const records = [];
    let cursor = null;
    let pages = 0;
    do {
        const page = await nango.listRecords({ connectionId, providerConfigKey: integration, model: 'Vendor', ...params, cursor });
        records.push(...page.records);
        cursor = page.next_cursor;
        pages += 1;
    } while (cursor && pages < 1000);
    return { records, pages };
}

async function simObjects(body) {
    const response = await fetch(`${sim}/_sim/objects`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ family: 'vendors', space: 'v3', organization_id: demo.organization_id, ...body })
    });
    if (!response.ok) throw new Error(`simulator answered ${response.status}`);
    return (await response.json()).results;
}

const first = await settled();
if (!first) throw new Error('the first vendors run did not finish');
out.first = first;
const all = await listAll({ limit: 25 });
out.firstList = {
    pages: all.pages,
    ids: all.records.map((r) => r.id),
    archived: all.records.filter((r) => r.archived === true).length,
    sample: all.records[0],
};

// Behind billbridge's back: add one, change one, archive one (both chosen among the live ones).
const mark = new Date().toISOString();
const live = all.records.filter((r) => !r.archived);
const [added] = await simObjects({ action: 'add', fields: { name: 'Node Fresh Vendor' } });
await simObjects({ action: 'change', id: live[0].id, fields: { name: 'Node Renamed Vendor' } });
await simObjects({ action: 'archive', id: live[1].id });
out.changed = { added: added.id, renamed: live[0].id, archived: live[1].id };

const next = await triggered(first.finishedAt);
out.trigger = { status: next.response.status, data: next.response.data };
const second = next.status;
out.second = second;
for (const filter of ['added', 'updated', 'deleted', 'added,updated']) {
    const found = await listAll({ filter, modifiedAfter: mark });
    out[`filter_${filter}`] = found.records.map((r) => ({ id: r.id, action: r._nango_metadata.last_action, name: r.name }));
}
out.byIds = (await nango.listRecords({ connectionId, providerConfigKey: integration, model: 'Vendor', ids: [live[0].id] })).records.map((r) => r.id);

await nango.pauseSync(integration, ['vendors'], connectionId);
out.paused = (await vendorsStatus()).status;
await nango.startSync(integration, ['vendors'], connectionId);
out.started = (await vendorsStatus()).status;
out.frequency = await nango.updateSyncConnectionFrequency(integration, 'vendors', connectionId, 'every 2h');
out.frequencyShown = (await vendorsStatus()).frequency;
out.frequencyReset = await nango.updateSyncConnectionFrequency(integration, 'vendors', connectionId, null);

// Legacy boolean: true means full_refresh.
const full = await triggered(second.finishedAt, true);
out.fullTrigger = full.response.status;
out.third = full.status;
out.all = (await nango.syncStatus(integration, '*', connectionId)).syncs.map((s) => ({ name: s.name, status: s.status }));
out.finalList = (await listAll({ limit: 10000 })).records.map((r) => ({ id: r.id, name: r.name, action: r._nango_metadata.last_action }));

out.badFilter = await failure(nango.listRecords({ connectionId, providerConfigKey: integration, model: 'Vendor', filter: 'created' }));
out.unknownSync = await failure(nango.triggerSync(integration, ['nope'], connectionId));
done(out);
