// A company's own form: posts the credentials with @nangohq/frontend's auth(), no billbridge page.
import Nango from "/nango/index.js";

window.linkBill = async (host, token, providerConfigKey, credentials) => {
  const nango = new Nango({ host, connectSessionToken: token });
  try {
    return { ok: true, result: await nango.auth(providerConfigKey, { credentials }) };
  } catch (error) {
    return { ok: false, type: error.type, message: error.message };
  }
};
