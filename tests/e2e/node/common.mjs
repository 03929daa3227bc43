// Shared by the end-to-end drivers: configuration from the environment and result printing.
import { Nango } from '@nangohq/node';

export const host = process.env.BILLBRIDGE_HOST;
export const secretKey = process.env.SECRET_KEY;
export const demo = JSON.parse(process.env.DEMO_CREDENTIALS);
export const integration = 'bill-sandbox';

export function backend() {
    return new Nango({ host, secretKey });
}

// An axios error reduced to what the tests compare; anything else is rethrown.
export function httpError(err) {
    if (err && err.response) {
        return { status: err.response.status, data: err.response.data };
    }
    throw err;
}

export async function failure(promise) {
    try {
        await promise;
    } catch (err) {
        return httpError(err);
    }
    throw new Error('expected the call to fail');
}

export function done(result) {
    process.stdout.write(JSON.stringify(result) + '\n');
}
