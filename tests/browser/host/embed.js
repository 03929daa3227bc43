// A company's page: opens billbridge's Connect UI in an iframe, as Nango's SDK does for Nango's.
import Nango from "/nango/index.js";

const query = new URLSearchParams(window.location.search);
const billbridge = query.get("billbridge");
window.connectEvents = [];
const nango = new Nango({ connectSessionToken: query.get("token") });
window.connectUI = nango.openConnectUI({
  baseURL: billbridge,
  apiURL: billbridge,
  onEvent: (event) => {
    window.connectEvents.push(event);
  },
});
