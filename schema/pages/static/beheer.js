// Leerpoort beheer: the coordinator's dashboard, a small vanilla module on the public GraphQL API only.
//
// It runs in the signed-in web session: every request to /graphql carries the session cookie and the
// X-CSRF-Token header from <meta name="csrf-token">. Nothing is ever written with innerHTML: every text,
// above all what partners wrote (purposes, names of partners and products), goes in as a text node.

const PAGES = [
  ["overzicht", "Overzicht"],
  ["toestemming", "Toestemming"],
  ["gegevens", "Gegevens"],
  ["groepen", "Groepen en leerlingen"],
  ["medewerkers", "Medewerkers"],
  ["licenties", "Licenties"],
  ["snelkoppelingen", "Snelkoppelingen"],
  ["inzage", "Inzage"],
];
const BOARD_PAGE = ["scholen", "Alle scholen"];

// What each data category opens, in plain Dutch for a coordinator.
const CATEGORIES = {
  SCHOOL_BASIC: "Schoolgegevens: naam, BRIN en vestiging (altijd)",
  GROUP_BASIC: "Groepen: naam, jaargroep en wie erin zit",
  STUDENT_BASIC: "Leerlingen: een pseudoniem, jaargroep en groep",
  STUDENT_NAME: "Namen van leerlingen",
  STUDENT_DEMOGRAPHICS: "Geboortedatum van leerlingen",
  STAFF_BASIC: "Medewerkers: een pseudoniem, rollen en groepen",
  STAFF_NAME: "Namen van medewerkers",
  STAFF_COMMUNICATION: "E-mailadressen van medewerkers",
  LICENSE: "Licenties van de school en aan welke groepen ze gekoppeld zijn",
};
const ROLES = {
  TEACHER: "Leerkracht",
  ICT_COORDINATOR: "ICT-coördinator",
  INTERNAL_SUPERVISOR: "Intern begeleider",
  REMEDIAL_TEACHER: "Remedial teacher",
  INTERN: "Stagiair(e)",
  SUBSTITUTE: "Invalkracht",
  SUPPORT_STAFF: "Onderwijsondersteuner",
};
const HAND_ROLES = ["ICT_COORDINATOR", "INTERNAL_SUPERVISOR", "REMEDIAL_TEACHER", "INTERN", "SUBSTITUTE", "SUPPORT_STAFF"];
const STATUS = {
  OK: ["In orde", "✓"],
  WARNING: ["Let op", "!"],
  PROBLEM: ["Probleem", "✗"],
};
const YEAR_LEVELS = ["1", "2", "3", "4", "5", "6", "7", "8"];

const state = { schools: [], code: null, page: "overzicht", notice: null };
let uniqueId = 0;

// --- building the page ---------------------------------------------------------------------------------

/** An element with attributes (properties for on*, booleans and value) and children (strings become text). */
function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "checked" || name === "disabled" || name === "value") element[name] = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function newId(prefix) {
  uniqueId += 1;
  return `${prefix}-${uniqueId}`;
}

function checkbox(label, attributes = {}) {
  const id = newId("keuze");
  return h("div", { class: "keuze" }, h("input", { type: "checkbox", id, ...attributes }), h("label", { for: id }, label));
}

function personName(person) {
  return [person.firstName, person.prefix, person.lastName].filter(Boolean).join(" ") || "(naam niet bekend)";
}

function dutchDate(value) {
  if (!value) return "";
  const date = new Date(value.length === 10 ? `${value}T12:00:00Z` : value);
  const options = { day: "numeric", month: "long", year: "numeric" };
  if (value.length > 10) Object.assign(options, { hour: "2-digit", minute: "2-digit" });
  return date.toLocaleString("nl-NL", options);
}

function categoryList(categories) {
  return h("ul", { class: "categorieen" }, categories.map((category) => h("li", {}, CATEGORIES[category] || category)));
}

// --- talking to the graph --------------------------------------------------------------------------------

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute("content") : "";
}

class GraphError extends Error {}

async function answer(response) {
  if (response.status === 401) {
    window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname + window.location.hash)}`);
    throw new GraphError("U bent niet meer aangemeld.");
  }
  let body;
  try {
    body = await response.json();
  } catch {
    throw new GraphError(`De server antwoordde onverwacht (${response.status}).`);
  }
  if (body.errors && body.errors.length) {
    throw new GraphError(body.errors.map((error) => error.message).join(" "));
  }
  return body.data;
}

async function graph(query, variables = {}) {
  const response = await fetch("/graphql", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrfToken() },
    body: JSON.stringify({ query, variables }),
  });
  return answer(response);
}

/** A multipart upload (GraphQL multipart request spec), with the preflight header the hub requires. */
async function upload(query, variables, file) {
  const form = new FormData();
  form.append("operations", JSON.stringify({ query, variables: { ...variables, file: null } }));
  form.append("map", JSON.stringify({ 0: ["variables.file"] }));
  form.append("0", file, file.name);
  const response = await fetch("/graphql", {
    method: "POST",
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRF-Token": csrfToken(), "Apollo-Require-Preflight": "true" },
    body: form,
  });
  return answer(response);
}

// --- the frame: school choice, navigation, messages ------------------------------------------------------

const root = document.getElementById("beheer");

function say(text, kind = "info") {
  state.notice = { text, kind };
  const region = document.getElementById("melding");
  region.replaceChildren();
  if (text) region.append(h("p", { class: `melding ${kind}` }, text));
}

async function act(button, work) {
  button.disabled = true;
  try {
    await work();
  } catch (error) {
    say(`Dat lukte niet: ${error.message}`, "fout");
  } finally {
    button.disabled = false;
  }
}

function currentSchool() {
  return state.schools.find((school) => school.code === state.code);
}

function pages() {
  return state.schools.length > 1 ? [BOARD_PAGE, ...PAGES] : PAGES;
}

function readHash() {
  const [page, code] = window.location.hash.replace(/^#\/?/, "").split("/");
  state.page = pages().some(([name]) => name === page) ? page : "overzicht";
  if (code && state.schools.some((school) => school.code === code)) state.code = code;
}

function go(page, code = state.code) {
  window.location.hash = `#/${page}/${code}`;
}

function frame() {
  const select = h(
    "select",
    { id: "school-keuze", onchange: (event) => go(state.page, event.target.value) },
    state.schools.map((school) =>
      h("option", { value: school.code, selected: school.code === state.code }, `${school.name} (${school.code})`),
    ),
  );
  const header = h(
    "div",
    { class: "beheer-kop" },
    h("p", { class: "beheer-merk" }, "Beheer"),
    state.schools.length > 1
      ? h("div", { class: "schoolkeuze" }, h("label", { for: "school-keuze" }, "School"), select)
      : h("p", { class: "schoolnaam" }, `${currentSchool().name} (${state.code})`),
  );
  const nav = h(
    "nav",
    { "aria-label": "Beheer" },
    h(
      "ul",
      {},
      pages().map(([name, title]) =>
        h("li", {}, h("a", { href: `#/${name}/${state.code}`, "aria-current": name === state.page ? "page" : null }, title)),
      ),
    ),
  );
  const title = (pages().find(([name]) => name === state.page) || PAGES[0])[1];
  const content = h("div", { id: "inhoud" }, h("p", {}, "Even geduld…"));
  root.replaceChildren(
    header,
    nav,
    h(
      "section",
      { class: "pagina", "aria-labelledby": "pagina-titel" },
      h("h1", { id: "pagina-titel", tabindex: "-1" }, title),
      h("div", { id: "melding", role: "status", "aria-live": "polite" }),
      content,
    ),
  );
  return content;
}

async function show({ focus = true } = {}) {
  readHash();
  document.title = `${(pages().find(([name]) => name === state.page) || PAGES[0])[1]} – Leerpoort beheer`;
  const content = frame();
  if (state.notice) say(state.notice.text, state.notice.kind);
  state.notice = null;
  try {
    const parts = await RENDER[state.page](state.code);
    content.replaceChildren();
    append(content, [parts]);
  } catch (error) {
    content.replaceChildren(h("p", { class: "melding fout" }, `De gegevens konden niet worden geladen: ${error.message}`));
  }
  if (focus) document.getElementById("pagina-titel").focus();
}

async function refresh(message) {
  state.notice = message ? { text: message, kind: "gelukt" } : null;
  await show({ focus: false });
}

// --- overzicht and the board's helikopterview -------------------------------------------------------------

function readinessList(checks) {
  return h(
    "ul",
    { class: "startcheck" },
    checks.map((check) => {
      const [label, sign] = STATUS[check.status];
      return h(
        "li",
        { class: `check ${check.status.toLowerCase()}`, "data-code": check.code },
        h("span", { class: "status" }, h("span", { "aria-hidden": "true" }, sign), ` ${label}`),
        h("div", {}, h("h3", {}, check.title), h("p", {}, check.message)),
      );
    }),
  );
}

function tally(checks) {
  const count = (status) => checks.filter((check) => check.status === status).length;
  return { problems: count("PROBLEM"), warnings: count("WARNING") };
}

async function overview(code) {
  const data = await graph(
    `query Overzicht($code: String!) { announcements { title body severity }
      school(code: $code) { name schoolYearWarning readiness { code status title message } } }`,
    { code },
  );
  const { problems, warnings } = tally(data.school.readiness);
  const summary =
    problems + warnings === 0
      ? "Alles is klaar voor het schooljaar."
      : `${problems === 0 ? "Geen" : problems} ${problems === 1 ? "probleem" : "problemen"} en ${warnings === 0 ? "geen" : warnings} ${warnings === 1 ? "aandachtspunt" : "aandachtspunten"}.`;
  return [
    data.announcements.length
      ? h(
          "section",
          { class: "mededelingen", "aria-labelledby": "mededelingen-titel" },
          h("h2", { id: "mededelingen-titel" }, "Mededelingen van de helpdesk"),
          data.announcements.map((item) =>
            h("div", { class: `mededeling ${item.severity.toLowerCase()}` }, h("h3", {}, item.title), h("p", {}, item.body)),
          ),
        )
      : null,
    h(
      "section",
      { "aria-labelledby": "startcheck-titel" },
      h("h2", { id: "startcheck-titel" }, `Startcheck van ${data.school.name}`),
      h("p", { class: "samenvatting" }, summary),
      readinessList(data.school.readiness),
    ),
  ];
}

async function boardOverview() {
  const boards = [...new Map(state.schools.map((school) => [school.board.number, school.board])).values()];
  const sections = [];
  for (const board of boards) {
    const data = await graph(
      `query Helikopter($number: String!) { board(number: $number) { name
        schools(first: 100) { edges { node { code name readiness { code status title } } } } } }`,
      { number: board.number },
    );
    let schools = data.board ? data.board.schools.edges.map((edge) => edge.node) : null;
    if (!schools) {
      // A school's own coordinator (of several schools) is no board coordinator: read its schools one by one.
      schools = [];
      for (const school of state.schools.filter((item) => item.board.number === board.number)) {
        const one = await graph(`query($code: String!) { school(code: $code) { code name readiness { code status title } } }`, {
          code: school.code,
        });
        schools.push(one.school);
      }
    }
    sections.push(
      h(
        "section",
        {},
        h("h2", {}, /^\d+$/.test(board.name) || board.name.startsWith("Bestuur") ? board.name : `Bestuur ${board.name}`),
        h(
          "table",
          {},
          h("caption", {}, "De startcheck van elke school"),
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "School"), h("th", { scope: "col" }, "Problemen"), h("th", { scope: "col" }, "Aandachtspunten"), h("th", { scope: "col" }, "Wat speelt er"))),
          h(
            "tbody",
            {},
            schools.map((school) => {
              const { problems, warnings } = tally(school.readiness);
              const open = school.readiness.filter((check) => check.status !== "OK").map((check) => check.title);
              return h(
                "tr",
                {},
                h("th", { scope: "row" }, h("a", { href: `#/overzicht/${school.code}` }, `${school.name} (${school.code})`)),
                h("td", {}, String(problems)),
                h("td", {}, String(warnings)),
                h("td", {}, open.length ? open.join("; ") : "Alles in orde"),
              );
            }),
          ),
        ),
      ),
    );
  }
  return sections;
}

// --- toestemming -----------------------------------------------------------------------------------------

function receipt(title, item) {
  return h(
    "section",
    { class: "bewijs", "aria-labelledby": "bewijs-titel" },
    h("h2", { id: "bewijs-titel" }, title),
    h(
      "dl",
      {},
      h("dt", {}, "Partner"),
      h("dd", {}, item.partner ? item.partner.name : ""),
      h("dt", {}, "Gegevens"),
      h("dd", {}, categoryList(item.categories)),
      h("dt", {}, "Gegeven door"),
      h("dd", {}, `${item.grantedBy}, ${dutchDate(item.grantedAt)}`),
      item.revokedAt ? [h("dt", {}, "Beëindigd"), h("dd", {}, `${item.revokedBy || ""}, ${dutchDate(item.revokedAt)}`)] : null,
      h("dt", {}, "Bewijsnummer"),
      h("dd", { class: "bewijsnummer" }, item.id),
      h("dt", {}, "Versie van het beleid"),
      h("dd", {}, item.policyVersion),
    ),
  );
}

const RECEIPT = "id categories grantedBy grantedAt revokedAt revokedBy policyVersion partner { id name }";
let lastReceipt = null;

function chosen(fieldset) {
  return [...fieldset.querySelectorAll("input[type=checkbox]:checked")].map((input) => input.value);
}

async function consent(code) {
  const data = await graph(
    `query Toestemming($code: String!) { school(code: $code) {
      consentRequests(first: 100) { edges { node { id purpose requestedAt categories partner { id name declaredCategories } } } }
      consents(first: 500) { edges { node { ${RECEIPT} partner { declaredCategories } } } } } }`,
    { code },
  );
  const requests = data.school.consentRequests.edges.map((edge) => edge.node);
  const inForce = data.school.consents.edges.map((edge) => edge.node).filter((item) => !item.revokedAt);
  const shownReceipt = lastReceipt;
  lastReceipt = null;

  const grant = async (partner, categories, title) => {
    const result = await graph(
      `mutation Geven($code: String!, $partner: ID!, $categories: [DataCategory!]!) {
        grantConsent(schoolCode: $code, partnerId: $partner, categories: $categories) { ${RECEIPT} } }`,
      { code, partner: partner.id, categories },
    );
    lastReceipt = [title, result.grantConsent];
    await refresh(`${title} voor ${partner.name}.`);
  };

  const requestCards = requests.map((request) => {
    const choice = h(
      "fieldset",
      {},
      h("legend", {}, "Welke gegevens geeft u?"),
      request.categories.map((category) =>
        checkbox(CATEGORIES[category] || category, {
          value: category,
          checked: true,
          disabled: category === "SCHOOL_BASIC",
        }),
      ),
    );
    const give = h("button", { type: "button", class: "hoofd" }, "Toestemming geven voor de gekozen gegevens");
    give.addEventListener("click", () =>
      act(give, async () => {
        const categories = [...new Set(["SCHOOL_BASIC", ...chosen(choice)])];
        await grant(request.partner, categories, "Toestemming gegeven");
      }),
    );
    const decline = h("button", { type: "button" }, "Afwijzen");
    decline.addEventListener("click", () =>
      act(decline, async () => {
        await graph(`mutation Afwijzen($id: ID!) { declineConsentRequest(requestId: $id) { status } }`, { id: request.id });
        await refresh(`Het verzoek van ${request.partner.name} is afgewezen; er is niets gedeeld.`);
      }),
    );
    return h(
      "article",
      { class: "beheer-kaart verzoek" },
      h("h3", {}, request.partner.name),
      h("p", { class: "klein" }, `Gevraagd op ${dutchDate(request.requestedAt)}`),
      h("h4", {}, "Waarvoor de partner de gegevens wil gebruiken"),
      h("blockquote", { class: "doel" }, request.purpose),
      choice,
      h("div", { class: "knoppen" }, give, decline),
    );
  });

  const partnerCards = inForce.map((item) => {
    const granted = new Set(item.categories);
    const choice = h(
      "fieldset",
      {},
      h("legend", {}, "Gegevens die deze partner krijgt"),
      item.partner.declaredCategories.map((category) =>
        checkbox(CATEGORIES[category] || category, {
          value: category,
          checked: granted.has(category) || category === "SCHOOL_BASIC",
          disabled: category === "SCHOOL_BASIC",
        }),
      ),
    );
    const change = h("button", { type: "button" }, "Wijziging opslaan");
    change.addEventListener("click", () =>
      act(change, async () => {
        const categories = [...new Set(["SCHOOL_BASIC", ...chosen(choice)])];
        await grant(item.partner, categories, "Toestemming gewijzigd");
      }),
    );
    const revoke = h("button", { type: "button", class: "gevaar" }, "Toestemming intrekken");
    revoke.addEventListener("click", () => {
      if (!window.confirm(`Wilt u de toestemming voor ${item.partner.name} intrekken? De partner krijgt dan niets meer.`)) return;
      act(revoke, async () => {
        const result = await graph(
          `mutation Intrekken($code: String!, $partner: ID!) { revokeConsent(schoolCode: $code, partnerId: $partner) { ${RECEIPT} } }`,
          { code, partner: item.partner.id },
        );
        lastReceipt = ["Toestemming ingetrokken", result.revokeConsent];
        await refresh(`De toestemming voor ${item.partner.name} is ingetrokken.`);
      });
    });
    return h(
      "article",
      { class: "beheer-kaart" },
      h("h3", {}, item.partner.name),
      h("p", { class: "klein" }, `Sinds ${dutchDate(item.grantedAt)}, door ${item.grantedBy}`),
      choice,
      h("div", { class: "knoppen" }, change, revoke),
    );
  });

  return [
    shownReceipt ? receipt(...shownReceipt) : null,
    h(
      "section",
      { "aria-labelledby": "verzoeken-titel" },
      h("h2", { id: "verzoeken-titel" }, "Verzoeken die op uw besluit wachten"),
      requestCards.length ? requestCards : h("p", {}, "Er wachten geen verzoeken."),
    ),
    h(
      "section",
      { "aria-labelledby": "partners-titel" },
      h("h2", { id: "partners-titel" }, "Partners met toestemming"),
      h("p", { class: "klein" }, "Haal een vinkje weg om minder te delen (beperken); de partner hoort in zijn wijzigingenfeed wat hij moet verwijderen."),
      partnerCards.length ? partnerCards : h("p", {}, "Geen enkele partner heeft nu toestemming."),
    ),
  ];
}

// --- gegevens (imports and the LAS coupling) -----------------------------------------------------------

const REPORT = "schoolCode schoolYear dryRun held warnings errors groups { added changed removed unchanged } students { added changed removed unchanged } staff { added changed removed unchanged }";
let lastReport = null;

function reportView(report, file) {
  const title = report.errors.length
    ? "Het bestand is geweigerd: er is niets gewijzigd"
    : report.held
      ? "De import wacht op uw bevestiging"
      : report.dryRun
        ? "Proefdraaien: zo zou de import uitpakken (er is niets gewijzigd)"
        : "Het bestand is geïmporteerd";
  const row = (label, counts) =>
    h("tr", {}, h("th", { scope: "row" }, label), ["added", "changed", "removed", "unchanged"].map((key) => h("td", {}, String(counts[key]))));
  const buttons = [];
  if (!report.errors.length && (report.dryRun || report.held)) {
    const apply = h("button", { type: "button", class: "hoofd" }, report.held ? "Bevestigen en importeren" : "Nu echt importeren");
    apply.addEventListener("click", () =>
      act(apply, async () => {
        const result = await upload(
          `mutation Import($file: Upload!, $dryRun: Boolean, $confirm: Boolean) { importEdex(file: $file, dryRun: $dryRun, confirm: $confirm) { ${REPORT} } }`,
          { dryRun: false, confirm: report.held },
          file,
        );
        lastReport = [result.importEdex, file];
        await refresh(result.importEdex.errors.length ? null : "Het bestand is geïmporteerd.");
      }),
    );
    buttons.push(apply);
  }
  return h(
    "section",
    { class: "rapport", "aria-labelledby": "rapport-titel" },
    h("h2", { id: "rapport-titel" }, title),
    report.schoolCode ? h("p", {}, `School ${report.schoolCode}, schooljaar ${report.schoolYear}`) : null,
    report.errors.length ? h("ul", { class: "fouten" }, report.errors.map((error) => h("li", {}, error))) : null,
    !report.errors.length
      ? h(
          "table",
          {},
          h("caption", {}, "Wat er verandert"),
          h("thead", {}, h("tr", {}, h("td", {}), ["Toegevoegd", "Gewijzigd", "Verwijderd", "Ongewijzigd"].map((label) => h("th", { scope: "col" }, label)))),
          h("tbody", {}, row("Groepen", report.groups), row("Leerlingen", report.students), row("Medewerkers", report.staff)),
        )
      : null,
    report.warnings.length ? [h("h3", {}, "Let op"), h("ul", {}, report.warnings.map((warning) => h("li", {}, warning)))] : null,
    buttons.length ? h("div", { class: "knoppen" }, buttons) : null,
  );
}

async function data(code) {
  const found = await graph(
    `query Gegevens($code: String!) { school(code: $code) { lasCouplingSuspended receivedFiles { schoolYear receivedAt } } }`,
    { code },
  );
  const school = found.school;
  const shownReport = lastReport;
  lastReport = null;
  const fileInput = h("input", { type: "file", id: "bestand", name: "bestand", accept: ".xml,.zip", required: true });
  const dryRun = h("input", { type: "checkbox", id: "proef", checked: true });
  const send = h("button", { type: "submit", class: "hoofd" }, "Uploaden");
  const form = h(
    "form",
    { class: "beheer-kaart" },
    h("div", { class: "veld" }, h("label", { for: "bestand" }, "Bestand uit de leerlingadministratie (EDEXML, of de CSV-map als zip)"), fileInput),
    h("div", { class: "keuze" }, dryRun, h("label", { for: "proef" }, "Eerst proefdraaien: laat zien wat er verandert zonder iets te wijzigen")),
    h("div", { class: "knoppen" }, send),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (!file) {
      say("Kies eerst een bestand.", "fout");
      return;
    }
    act(send, async () => {
      const result = await upload(
        `mutation Import($file: Upload!, $dryRun: Boolean, $confirm: Boolean) { importEdex(file: $file, dryRun: $dryRun, confirm: $confirm) { ${REPORT} } }`,
        { dryRun: dryRun.checked, confirm: false },
        file,
      );
      lastReport = [result.importEdex, file];
      await refresh();
    });
  });
  const suspended = school.lasCouplingSuspended;
  const toggle = h("button", { type: "button", class: suspended ? "hoofd" : "" }, suspended ? "Koppeling weer aanzetten" : "Koppeling uitzetten");
  toggle.addEventListener("click", () =>
    act(toggle, async () => {
      await graph(`mutation Koppeling($code: String!, $suspended: Boolean!) { setLasCoupling(schoolCode: $code, suspended: $suspended) { code } }`, {
        code,
        suspended: !suspended,
      });
      await refresh(suspended ? "De koppeling met de LAS staat weer aan." : "De koppeling met de LAS staat uit.");
    }),
  );
  return [
    shownReport ? reportView(...shownReport) : null,
    h(
      "section",
      { "aria-labelledby": "koppeling-titel" },
      h("h2", { id: "koppeling-titel" }, "Koppeling met de leerlingadministratie (LAS)"),
      h("p", { class: "koppeling" }, suspended ? "De koppeling staat uit: wat de LAS stuurt, wordt geweigerd." : "De koppeling staat aan: de LAS stuurt de gegevens zelf."),
      toggle,
    ),
    h("section", { "aria-labelledby": "upload-titel" }, h("h2", { id: "upload-titel" }, "Zelf een bestand uploaden"), form),
    h(
      "section",
      { "aria-labelledby": "historie-titel" },
      h("h2", { id: "historie-titel" }, "Ontvangen bestanden"),
      school.receivedFiles.length
        ? h("ul", {}, school.receivedFiles.map((item) => h("li", {}, `Schooljaar ${item.schoolYear}: laatste bestand op ${dutchDate(item.receivedAt)}`)))
        : h("p", {}, "Er is nog geen bestand ontvangen."),
    ),
  ];
}

// --- groepen en leerlingen --------------------------------------------------------------------------------

async function groups(code) {
  const found = await graph(
    `query Groepen($code: String!) { school(code: $code) { schoolYearWarning
      groups(first: 500) { edges { node { id name yearLevel schoolYear composite
        staff(first: 50) { edges { node { firstName prefix lastName } } }
        students(first: 1000) { edges { node { firstName prefix lastName } } } } } } } }`,
    { code },
  );
  const list = found.school.groups.edges.map((edge) => edge.node);
  return [
    found.school.schoolYearWarning ? h("p", { class: "melding waarschuwing" }, found.school.schoolYearWarning) : null,
    list.length
      ? h(
          "table",
          {},
          h("caption", {}, `${list.length} groepen van dit schooljaar`),
          h("thead", {}, h("tr", {}, ["Groep", "Jaargroep", "Leerkrachten", "Leerlingen"].map((label) => h("th", { scope: "col" }, label)))),
          h(
            "tbody",
            {},
            list.map((group) => {
              const students = group.students.edges.map((edge) => personName(edge.node));
              const teachers = group.staff.edges.map((edge) => personName(edge.node));
              return h(
                "tr",
                {},
                h("th", { scope: "row" }, group.name, group.composite ? " (combinatiegroep)" : ""),
                h("td", {}, group.yearLevel || "–"),
                h("td", {}, teachers.length ? teachers.join(", ") : h("strong", {}, "geen leerkracht")),
                h("td", {}, h("details", {}, h("summary", {}, `${students.length} leerlingen`), h("ul", {}, students.map((name) => h("li", {}, name))))),
              );
            }),
          ),
        )
      : h("p", {}, "Er zijn nog geen groepen."),
  ];
}

// --- medewerkers ----------------------------------------------------------------------------------------------

async function staff(code) {
  const found = await graph(
    `query Medewerkers($code: String!) { school(code: $code) {
      staff(first: 1000) { edges { node { id firstName prefix lastName email roles active groups { id name } } } }
      groups(first: 500) { edges { node { id name } } } } }`,
    { code },
  );
  const members = found.school.staff.edges.map((edge) => edge.node);
  const groupList = found.school.groups.edges.map((edge) => edge.node);
  const send = async (button, staffIds) =>
    act(button, async () => {
      const result = await graph(`mutation Activatie($code: String!, $ids: [ID!]) { sendActivationMails(schoolCode: $code, staffIds: $ids) }`, {
        code,
        ids: staffIds,
      });
      await refresh(`${result.sendActivationMails} activatiemail(s) verstuurd. Vraag de collega's ook in de map met ongewenste mail te kijken.`);
    });
  const rows = members.map((member) => {
    const roles = (member.roles || []).map((role) => {
      if (!HAND_ROLES.includes(role)) return h("li", {}, ROLES[role] || role);
      const remove = h("button", { type: "button", class: "klein", "aria-label": `${ROLES[role] || role} weghalen bij ${personName(member)}` }, "weghalen");
      remove.addEventListener("click", () =>
        act(remove, async () => {
          await graph(`mutation RolWeg($id: ID!, $role: StaffRole!) { removeStaffRole(staffId: $id, role: $role) { id } }`, { id: member.id, role });
          await refresh(`De rol ${ROLES[role] || role} is weggehaald bij ${personName(member)}.`);
        }),
      );
      return h("li", {}, `${ROLES[role] || role} `, remove);
    });
    const pick = member.active || !member.email ? null : h("input", { type: "checkbox", class: "mailkeuze", value: member.id, "aria-label": `Activatiemail aan ${personName(member)}` });
    return h(
      "tr",
      {},
      h("td", {}, pick),
      h("th", { scope: "row" }, personName(member)),
      h("td", {}, member.email || h("strong", {}, "geen e-mailadres")),
      h("td", {}, h("ul", { class: "rollen" }, roles)),
      h("td", {}, (member.groups || []).map((group) => group.name).join(", ") || "–"),
      h("td", {}, member.active ? "Geactiveerd" : h("strong", {}, "Niet geactiveerd")),
    );
  });
  const sendChosen = h("button", { type: "button" }, "Activatiemail aan de gekozen medewerkers");
  sendChosen.addEventListener("click", () => {
    const ids = [...document.querySelectorAll(".mailkeuze:checked")].map((input) => input.value);
    if (!ids.length) say("Kies eerst een of meer medewerkers.", "fout");
    else send(sendChosen, ids);
  });
  const sendAll = h("button", { type: "button", class: "hoofd" }, "Activatiemail aan iedereen die nog niet geactiveerd is");
  sendAll.addEventListener("click", () => send(sendAll, null));

  const memberSelect = h("select", { id: "rol-medewerker", required: true }, members.map((member) => h("option", { value: member.id }, personName(member))));
  const roleSelect = h("select", { id: "rol-soort" }, HAND_ROLES.map((role) => h("option", { value: role }, ROLES[role])));
  const groupChoice = h("fieldset", {}, h("legend", {}, "Groepen (bijvoorbeeld voor een invalkracht)"), groupList.map((group) => checkbox(group.name, { value: group.id })));
  const until = h("input", { type: "date", id: "rol-tot" });
  const add = h("button", { type: "submit", class: "hoofd" }, "Rol geven");
  const form = h(
    "form",
    { class: "beheer-kaart" },
    h("div", { class: "veld" }, h("label", { for: "rol-medewerker" }, "Medewerker"), memberSelect),
    h("div", { class: "veld" }, h("label", { for: "rol-soort" }, "Rol"), roleSelect),
    groupChoice,
    h("div", { class: "veld" }, h("label", { for: "rol-tot" }, "Tot en met (verplicht voor een invalkracht)"), until),
    h("div", { class: "knoppen" }, add),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (roleSelect.value === "SUBSTITUTE" && !until.value) {
      say("Geef een invalkracht een einddatum.", "fout");
      until.focus();
      return;
    }
    act(add, async () => {
      await graph(`mutation Rol($id: ID!, $role: StaffRole!, $groups: [ID!], $until: Date) { addStaffRole(staffId: $id, role: $role, groupIds: $groups, until: $until) { id } }`, {
        id: memberSelect.value,
        role: roleSelect.value,
        groups: chosen(groupChoice),
        until: until.value || null,
      });
      await refresh(`De rol ${ROLES[roleSelect.value]} is gegeven.`);
    });
  });
  return [
    h(
      "table",
      {},
      h("caption", {}, `${members.length} medewerkers`),
      h("thead", {}, h("tr", {}, ["Kies", "Naam", "E-mailadres", "Rollen", "Groepen", "Account"].map((label) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, rows),
    ),
    h("div", { class: "knoppen" }, sendAll, sendChosen),
    h("section", { "aria-labelledby": "rol-titel" }, h("h2", { id: "rol-titel" }, "Een rol geven"), form),
  ];
}

// --- licenties --------------------------------------------------------------------------------------------

async function licenses(code) {
  const found = await graph(
    `query Licenties($code: String!) { school(code: $code) {
      licenses(first: 500) { edges { node { id seats seatsUsed validFrom validUntil product { name partner { name } }
        coupledGroups { id name } coupledYearLevels } } }
      groups(first: 500) { edges { node { id name yearLevel } } } } }`,
    { code },
  );
  const groupList = found.school.groups.edges.map((edge) => edge.node);
  const cards = found.school.licenses.edges.map(({ node: license }) => {
    const product = license.product ? license.product.name : "(product)";
    const uncouple = (label, variables) => {
      const button = h("button", { type: "button", class: "klein", "aria-label": `${label} ontkoppelen van ${product}` }, "ontkoppelen");
      button.addEventListener("click", () =>
        act(button, async () => {
          await graph(`mutation Ontkoppel($id: ID!, $groups: [ID!], $levels: [String!]) { uncoupleLicense(licenseId: $id, groupIds: $groups, yearLevels: $levels) { id } }`, {
            id: license.id,
            ...variables,
          });
          await refresh(`${label} is ontkoppeld van ${product}.`);
        }),
      );
      return button;
    };
    const byGroup = h("fieldset", {}, h("legend", {}, "Groepen"), groupList.map((group) => checkbox(group.name, { value: group.id })));
    const byLevel = h("fieldset", {}, h("legend", {}, "Jaargroepen (ook de groepen van volgend jaar)"), YEAR_LEVELS.map((level) => checkbox(`Jaargroep ${level}`, { value: level })));
    const couple = h("button", { type: "button", class: "hoofd" }, "Koppelen");
    couple.addEventListener("click", () =>
      act(couple, async () => {
        const groups = chosen(byGroup);
        const levels = chosen(byLevel);
        if (!groups.length && !levels.length) {
          say("Kies een groep of een jaargroep om te koppelen.", "fout");
          return;
        }
        await graph(`mutation Koppel($id: ID!, $groups: [ID!], $levels: [String!]) { coupleLicense(licenseId: $id, groupIds: $groups, yearLevels: $levels) { id } }`, {
          id: license.id,
          groups,
          levels,
        });
        await refresh(`${product} is gekoppeld.`);
      }),
    );
    const seats = license.seats === null ? `${license.seatsUsed ?? 0} in gebruik (geen maximum)` : `${license.seatsUsed ?? 0} van ${license.seats} plaatsen in gebruik`;
    return h(
      "article",
      { class: "beheer-kaart licentie" },
      h("h3", {}, product),
      h("p", { class: "klein" }, license.product && license.product.partner ? `Van ${license.product.partner.name}` : ""),
      h("p", {}, seats),
      h("p", { class: "klein" }, `Geldig vanaf ${dutchDate(license.validFrom)}${license.validUntil ? ` tot en met ${dutchDate(license.validUntil)}` : ""}`),
      h("h4", {}, "Gekoppeld aan"),
      license.coupledGroups.length || license.coupledYearLevels.length
        ? h(
            "ul",
            { class: "gekoppeld" },
            license.coupledYearLevels.map((level) => h("li", {}, `Jaargroep ${level} `, uncouple(`Jaargroep ${level}`, { levels: [level] }))),
            license.coupledGroups.map((group) => h("li", {}, `${group.name} `, uncouple(group.name, { groups: [group.id] }))),
          )
        : h("p", {}, h("strong", {}, "Aan geen enkele groep: niemand ziet dit product.")),
      h("details", {}, h("summary", {}, "Koppelen aan groepen of jaargroepen"), byGroup, byLevel, h("div", { class: "knoppen" }, couple)),
    );
  });
  return cards.length ? cards : h("p", {}, "De school heeft geen licenties. Een uitgever maakt ze aan.");
}

// --- snelkoppelingen ------------------------------------------------------------------------------------------

function named(type) {
  let current = type;
  while (current && current.ofType) current = current.ofType;
  return current;
}

async function shortcuts(code) {
  const TYPE = "fields { name type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }";
  const school = await graph(`query { __type(name: "School") { ${TYPE} } }`);
  const fields = new Map(school.__type.fields.map((field) => [field.name, field]));
  if (!fields.has("shortcuts") && !fields.has("instellingRef")) {
    return h("p", { class: "melding info" }, "Snelkoppelingen zijn nog niet beschikbaar in deze versie van Leerpoort.");
  }
  const parts = [];
  if (fields.has("instellingRef")) {
    const found = await graph(`query($code: String!) { school(code: $code) { instellingRef } }`, { code });
    parts.push(h("p", {}, "De eigen code van uw school (INSTELLING_REF): ", h("code", {}, found.school.instellingRef || "")));
  }
  if (fields.has("shortcuts")) {
    const type = named(fields.get("shortcuts").type);
    const inner = await graph(`query($name: String!) { __type(name: $name) { kind ${TYPE} } }`, { name: type.name });
    const scalars = (inner.__type.fields || []).filter((field) => ["SCALAR", "ENUM"].includes(named(field.type).kind)).map((field) => field.name);
    const selection = inner.__type.kind === "OBJECT" ? `{ ${scalars.join(" ")} }` : "";
    const found = await graph(`query($code: String!) { school(code: $code) { shortcuts ${selection} } }`, { code });
    const items = [found.school.shortcuts].flat().filter(Boolean);
    parts.push(
      h(
        "ul",
        { class: "snelkoppelingen" },
        items.map((item) =>
          h(
            "li",
            { class: "beheer-kaart" },
            typeof item === "object"
              ? scalars.map((name) => {
                  const value = item[name];
                  if (typeof value === "string" && /^(https?:\/\/|\/)/.test(value)) return h("p", {}, h("a", { href: value, download: "" }, `${name}: downloaden`));
                  return value === null || value === undefined ? null : h("p", {}, `${name}: ${value}`);
                })
              : String(item),
          ),
        ),
      ),
    );
  }
  return parts;
}

// --- inzage ---------------------------------------------------------------------------------------------------

async function disclosures(code) {
  const found = await graph(
    `query Inzage($code: String!) { school(code: $code) { disclosures(first: 1000) { edges { node { at operationName records categories partner { name } } } } } }`,
    { code },
  );
  const list = found.school.disclosures.edges.map((edge) => edge.node).reverse();
  return list.length
    ? h(
        "table",
        {},
        h("caption", {}, "Welke partner welke gegevens kreeg, het nieuwste eerst"),
        h("thead", {}, h("tr", {}, ["Wanneer", "Partner", "Gegevens", "Records", "Verzoek"].map((label) => h("th", { scope: "col" }, label)))),
        h(
          "tbody",
          {},
          list.map((item) =>
            h(
              "tr",
              {},
              h("td", {}, dutchDate(item.at)),
              h("th", { scope: "row" }, item.partner ? item.partner.name : ""),
              h("td", {}, categoryList(item.categories)),
              h("td", {}, String(item.records)),
              h("td", {}, item.operationName || "–"),
            ),
          ),
        ),
      )
    : h("p", {}, "Er zijn nog geen gegevens van de school naar een partner gegaan.");
}

const RENDER = {
  overzicht: overview,
  scholen: boardOverview,
  toestemming: consent,
  gegevens: data,
  groepen: groups,
  medewerkers: staff,
  licenties: licenses,
  snelkoppelingen: shortcuts,
  inzage: disclosures,
};

// --- start ----------------------------------------------------------------------------------------------------

async function start() {
  try {
    const found = await graph(`query Scholen { schools(first: 1000) { edges { node { code name board { number name } } } } }`);
    state.schools = found.schools.edges.map((edge) => edge.node);
  } catch (error) {
    root.replaceChildren(h("p", { class: "melding fout" }, `Het beheer kon niet worden geladen: ${error.message}`));
    return;
  }
  if (!state.schools.length) {
    root.replaceChildren(h("p", { class: "melding info" }, "U beheert (nog) geen school. Vraag de helpdesk of uw bestuur om toegang."));
    return;
  }
  state.code = state.schools[0].code;
  readHash();
  window.addEventListener("hashchange", () => show());
  await show({ focus: false });
}

start();
