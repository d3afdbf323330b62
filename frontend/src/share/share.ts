// The share dialog (owners): who has access to this notebook, grant a person or a group a
// role, remove a grant. Roles above your own cannot be granted (the server refuses them).

import { api } from "../net/api";
import { nameOf, sharesUrl } from "../net/paths";
import { el } from "../ui/dom";
import "./share.css";

interface Share {
  principal: string;
  path: string;
  role: string;
  inherited: boolean;
}

const ROLES = ["viewer", "commenter", "editor", "owner"];

export function shareButton(path: () => string): HTMLElement {
  const button = el("button", { class: "button small", "data-testid": "share" }, "Share");
  button.addEventListener("click", () => openDialog(path()));
  return button;
}

function openDialog(path: string): void {
  const dialog = el("dialog", { class: "share-dialog", "aria-label": "Share" }) as HTMLDialogElement;
  const list = el("ul", { class: "shares" });
  const error = el("p", { class: "error", role: "alert" });
  const kind = el("select", { "aria-label": "Person or group" },
    el("option", { value: "user" }, "Person"), el("option", { value: "group" }, "Group"));
  const name = el("input", { placeholder: "user or group name", "aria-label": "Name", required: "" });
  const role = el("select", { "aria-label": "Role" }, ...ROLES.slice(0, 3).map((r) => el("option", { value: r }, r)));
  role.append(el("option", { value: "owner" }, "owner"));
  (role as HTMLSelectElement).value = "editor";
  const form = el("form", { class: "row" }, kind, name, role,
    el("button", { class: "button small", type: "submit" }, "Grant"));
  const close = el("button", { class: "button quiet small", type: "button" }, "Close");
  close.addEventListener("click", () => dialog.close());
  dialog.append(el("h2", {}, `Share ${nameOf(path)}`), list, form, error, close);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();

  const url = sharesUrl(path);
  const load = async () => {
    try {
      const { shares } = await api<{ shares: Share[] }>("GET", url);
      list.replaceChildren(...shares.map((share) => {
        const item = el("li", { "data-principal": share.principal },
          el("span", { class: "grow" }, share.principal.replace(/^(user|group):/, (_, k) => (k === "group" ? "group " : ""))),
          el("span", { class: "badge" }, share.role));
        if (share.inherited) {
          item.append(el("span", { class: "muted" }, ` via ${share.path || "the whole server"}`));
        } else {
          const remove = el("button", { class: "button quiet small danger" }, "Remove");
          remove.addEventListener("click", async () => {
            try {
              await api("DELETE", `${url}?principal=${encodeURIComponent(share.principal)}`);
              await load();
            } catch (e: any) {
              error.textContent = e.message;
            }
          });
          item.append(remove);
        }
        return item;
      }));
    } catch (e: any) {
      error.textContent = e.status === 501 ? "This server's sign-in system does not manage sharing." : e.message;
    }
  };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      await api("POST", url, { principal: `${(kind as HTMLSelectElement).value}:${name.value.trim().toLowerCase()}`,
        role: (role as HTMLSelectElement).value });
      name.value = "";
      await load();
    } catch (err: any) {
      error.textContent = err.message;
    }
  });
  void load();
}
