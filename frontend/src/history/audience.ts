// Who may read a published copy and who may run it as an app: the choices, the sentence that
// says what is in force, and why a choice was refused, in plain words. Pure (no page, no
// requests): shared by the Publish dialog and the published page.

export type Kind = "read" | "run";

export interface Choice { value: string; label: string }

/** Who may read a published copy (``/api/collab/published/{id}/audience``). */
export const READ_CHOICES: Choice[] = [
  { value: "restricted", label: "Only people you give access to it (and whoever may share this notebook)" },
  { value: "signed-in", label: "Everyone who can sign in to this server" },
  { value: "everyone", label: "Everyone, also people not signed in" },
];

/** Who may run it as an app (``/api/collab/apps/{id}/audience``): never people who are not
 * signed in (an app runs code on the server). */
export const RUN_CHOICES: Choice[] = [
  { value: "restricted", label: "Only people you give access to it (and whoever may share and run code in this notebook)" },
  { value: "signed-in", label: "Everyone who can sign in to this server" },
];

/** What only an administrator can have chosen (shown as it is, not offered). */
export const RUN_BY_EVERYONE: Choice = { value: "everyone", label: "Everyone, also people not signed in (an administrator chose this)" };

function whom(audience: string): string {
  if (audience === "everyone") return "everyone";
  if (audience === "signed-in") return "everyone signed in";
  return "only the people you give access to";
}

/** The audience in force, as a sentence: "Everyone signed in may run it as an app." */
export function audienceState(kind: Kind, audience: string): string {
  const who = whom(audience);
  const sentence = `${who[0].toUpperCase()}${who.slice(1)} may ${kind === "read" ? "read it" : "run it as an app"}`;
  return audience === "everyone" ? `${sentence}, also people not signed in.` : `${sentence}.`;
}

/** Why the server refused, as a clause. */
function reason(kind: Kind, status: number, message: string): string {
  if (status === 401 || status === 403) {
    return kind === "run"
      ? "you may not run code in this notebook, so you may not let others run it"
      : "you may not choose who reads it";
  }
  if (status === 501) return "this server's sign-in system cannot open it to an audience";
  if (status === 404) return "it no longer exists, or you may no longer see it";
  const said = (message || `the server answered ${status}`).replace(/\.\s*$/, "");
  return said[0].toLowerCase() + said.slice(1);
}

/** One sentence saying why ``audience`` could not be chosen: right after publishing
 * (``published``: "Published, but …") or when changed on the published page ("Not changed: …"). */
export function audienceRefusal(kind: Kind, audience: string, status: number, message: string, published = true): string {
  const why = reason(kind, status, message);
  if (!published) return `Not changed: ${why}.`;
  const what = kind === "read" ? "open" : "open as an app";
  return `Published, but it is not ${what} to ${whom(audience)}: ${why}.`;
}

/** One sentence saying why the audience in force could not be read (so it cannot be changed). */
export function audienceUnknown(kind: Kind, status: number, message: string): string {
  return `Who may ${kind === "read" ? "read it" : "run it as an app"} cannot be chosen here: ${reason(kind, status, message)}.`;
}
