"""Every word the page shows, in English and in French (`TT_UI_LANG`).

One dict per language with the same keys; `{name}` placeholders are filled by the page
and are the same in both languages.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

EN: dict[str, str] = {
    "app.title": "ThinkingThoughts",
    "nav.label": "Page",
    "nav.chat": "Chat",
    "nav.personas": "Personas",
    "nav.usage": "Usage",
    # access
    "access.no_key": (
        "No API key: set TT_API_KEY, or start the gateway once so that it saves its admin "
        "key in {path}."
    ),
    "access.ask": "Enter an API key of this gateway to continue.",
    "access.key_label": "API key",
    "access.sign_in": "Sign in",
    "access.empty": "Enter a key first.",
    "access.refused": "This API key was refused. Check it and try again.",
    "access.sign_out": "Sign out",
    "access.sign_in_again": "Sign in with another key",
    # chat
    "chat.persona": "Persona",
    "chat.model": "Model",
    "chat.settings": "Sliders and reply settings",
    "chat.trait_help": "1: {low} · 5: {high}",
    "chat.temperature": "Temperature",
    "chat.temperature_help": "0: focused and predictable · 2: varied and surprising",
    "chat.max_tokens": "Max tokens",
    "chat.max_tokens_help": "The longest reply, in tokens.",
    "chat.placeholder": "Type your message…",
    "chat.new": "New conversation",
    "chat.no_personas": "There is no persona yet: make one on the Personas page.",
    "chat.thinking": "💭 Thinking…",
    "chat.stop": "Stop",
    "chat.stopped": "The reply was stopped; what was said so far is kept.",
    "chat.regenerate": "Regenerate",
    "chat.interrupted": "(interrupted)",
    "chat.reply_failed": "(this reply failed)",
    "chat.empty": "The message is empty: nothing was sent.",
    "chat.long": (
        "This message has {count} characters, more than {limit}; the gateway may refuse it "
        "as too long."
    ),
    "chat.long_accepted": "Your long message ({count} characters) was accepted.",
    "chat.cut_at_max_tokens": "The reply reached the max tokens and was cut there.",
    "chat.session_gone": (
        "This conversation no longer exists (it was deleted, perhaps in another tab). "
        "A new conversation starts here."
    ),
    "chat.unsent": "Unsent message",
    "chat.send_again": "Send again",
    "chat.discard": "Discard",
    "chat.previous_version": "‹",
    "chat.previous_version_help": "The previous version",
    "chat.next_version": "›",
    "chat.next_version_help": "The next version",
    "chat.version": "{position}/{count}",
    "chat.edit": "Edit",
    "chat.edit_label": "Edited message",
    "chat.edit_send": "Send",
    "chat.edit_cancel": "Cancel",
    "chat.branch": "Branch from here",
    "chat.branch_help": "A new conversation that starts with everything up to here",
    "chat.branched": "A new conversation branched from that message: it is open now.",
    "chat.message_gone": "That message is no longer in this conversation.",
    "chat.link_not_found": (
        "The conversation this link names does not exist, or belongs to another key. "
        "A new conversation starts here."
    ),
    "chat.link_invalid": (
        "This link does not name a conversation. A new conversation starts here."
    ),
    # sessions (sidebar)
    "sessions.title": "Conversations",
    "sessions.none": "No conversation yet.",
    "sessions.untitled": "Untitled",
    "sessions.line": "{persona} · {when}",
    "sessions.no_persona": "no persona",
    "sessions.previous": "Previous",
    "sessions.next": "Next",
    "sessions.page": "Page {page} of {pages}",
    "session.this": "This conversation",
    "session.title": "Title",
    "session.save": "Save title",
    "session.title_empty": "A title cannot be empty.",
    "session.renamed": "The conversation was renamed.",
    "session.export": "Export",
    "session.delete": "Delete",
    "session.delete_question": "Delete this conversation for good?",
    "session.delete_confirm": "Yes, delete it",
    "session.delete_cancel": "Cancel",
    "session.deleted": "The conversation was deleted.",
    # personas page
    "personas.title": "Personas",
    "personas.pick": "Persona to edit",
    "personas.new": "New persona",
    "personas.private": "A private persona: only keys of its owner see it.",
    "personas.field.name": "Name",
    "personas.field.slug": "Slug",
    "personas.field.base_prompt": "Base prompt",
    "personas.field.greeting": "Greeting",
    "personas.field.age": "Age",
    "personas.field.tone": "Tone",
    "personas.field.humor": "Humor",
    "personas.field.favorite_expressions": "Favorite expressions",
    "personas.field.interests": "Interests",
    "personas.field.forbidden_topics": "Forbidden topics",
    "personas.field.emoji_usage": "Emoji usage",
    "personas.field.message_style": "Message style",
    "personas.field.appearance": "Appearance",
    "personas.field.example_dialogue": "Example dialogue",
    "personas.field.locale": "Language",
    "personas.help.slug": "Lowercase letters, digits and dashes; made from the name if empty.",
    "personas.help.favorite_expressions": "One per line.",
    "personas.help.interests": "One per line.",
    "personas.help.forbidden_topics": "One per line.",
    "personas.help.appearance": (
        "One 'key: value' per line; 'avatar' may be an emoji or an image URL."
    ),
    "personas.default_traits": "Default sliders",
    "personas.save": "Save",
    "personas.saved": "{name} was saved.",
    "personas.name_required": "A persona needs a name.",
    "personas.bad_appearance": "This appearance line is not 'key: value': {line}",
    "personas.delete": "Delete",
    "personas.delete_question": "Delete the persona {slug} for good?",
    "personas.delete_confirm": "Yes, delete it",
    "personas.delete_cancel": "Cancel",
    "personas.deleted": "The persona {slug} was deleted.",
    "personas.preview": "Compiled system prompt",
    "personas.preview_tokens": "About {tokens} tokens, for the saved sheet and the sliders above.",
    # usage page
    "usage.title": "Usage",
    "usage.who": "Key {name} ({prefix}) · scopes: {scopes} · owner: {owner}",
    "usage.scope": "Usage of",
    "usage.scope_own": "this key",
    "usage.scope_all": "all keys",
    "usage.period": "The last {days} days (UTC).",
    "usage.requests": "Requests",
    "usage.prompt_tokens": "Prompt tokens",
    "usage.completion_tokens": "Completion tokens",
    "usage.total_tokens": "Total tokens",
    "usage.day": "Day",
    "usage.persona": "Persona",
    "usage.no_persona": "(no persona)",
    "usage.none": "No usage in this period.",
    "usage.per_day": "Per day",
    "usage.per_persona": "Per persona",
    # problems with the gateway
    "problem.unreachable": "The gateway cannot be reached at {url}. Is it running?",
    "problem.unreachable_timeout": "The gateway at {url} did not answer in time.",
    "problem.upstream": ("The inference server is not answering right now. Try again in a moment."),
    "problem.rate_limited": "Too many requests: wait {seconds} s and try again.",
    "problem.rate_limited_unknown": "Too many requests: wait a moment and try again.",
    "problem.too_long": "The message is too long for the gateway.",
    "problem.unauthorized": "The API key was refused by the gateway.",
    "problem.forbidden": "This API key is not allowed to do that.",
    "problem.gone": "The gateway does not know this; it may have been deleted.",
    "problem.invalid": "The gateway refused the request.",
    "problem.conflict": "That clashes with something that exists already.",
    "problem.unavailable": "The gateway cannot serve this right now. Try again in a moment.",
    "problem.cut_off": "The reply stopped before it was finished: the connection was lost.",
    "problem.unexpected": "The gateway failed unexpectedly.",
}

FR: dict[str, str] = {
    "app.title": "ThinkingThoughts",
    "nav.label": "Page",
    "nav.chat": "Discussion",
    "nav.personas": "Personas",
    "nav.usage": "Consommation",
    # access
    "access.no_key": (
        "Aucune clé d'API : définissez TT_API_KEY, ou démarrez la passerelle une fois pour "
        "qu'elle enregistre sa clé d'administration dans {path}."
    ),
    "access.ask": "Saisissez une clé d'API de cette passerelle pour continuer.",
    "access.key_label": "Clé d'API",
    "access.sign_in": "Se connecter",
    "access.empty": "Saisissez d'abord une clé.",
    "access.refused": "Cette clé d'API a été refusée. Vérifiez-la et réessayez.",
    "access.sign_out": "Se déconnecter",
    "access.sign_in_again": "Se connecter avec une autre clé",
    # chat
    "chat.persona": "Persona",
    "chat.model": "Modèle",
    "chat.settings": "Curseurs et réglages de réponse",
    "chat.trait_help": "1 : {low} · 5 : {high}",
    "chat.temperature": "Température",
    "chat.temperature_help": "0 : précis et prévisible · 2 : varié et surprenant",
    "chat.max_tokens": "Tokens maximum",
    "chat.max_tokens_help": "La réponse la plus longue, en tokens.",
    "chat.placeholder": "Écrivez votre message…",
    "chat.new": "Nouvelle discussion",
    "chat.no_personas": "Aucun persona pour l'instant : créez-en un sur la page Personas.",
    "chat.thinking": "💭 Réflexion…",
    "chat.stop": "Arrêter",
    "chat.stopped": "La réponse a été arrêtée ; ce qui a été dit est conservé.",
    "chat.regenerate": "Régénérer",
    "chat.interrupted": "(interrompu)",
    "chat.reply_failed": "(cette réponse a échoué)",
    "chat.empty": "Le message est vide : rien n'a été envoyé.",
    "chat.long": (
        "Ce message compte {count} caractères, plus de {limit} ; la passerelle peut le "
        "refuser comme trop long."
    ),
    "chat.long_accepted": "Votre long message ({count} caractères) a été accepté.",
    "chat.cut_at_max_tokens": "La réponse a atteint le maximum de tokens et s'arrête là.",
    "chat.session_gone": (
        "Cette discussion n'existe plus (elle a été supprimée, peut-être dans un autre "
        "onglet). Une nouvelle discussion commence ici."
    ),
    "chat.unsent": "Message non envoyé",
    "chat.send_again": "Renvoyer",
    "chat.discard": "Abandonner",
    "chat.previous_version": "‹",
    "chat.previous_version_help": "La version précédente",
    "chat.next_version": "›",
    "chat.next_version_help": "La version suivante",
    "chat.version": "{position}/{count}",
    "chat.edit": "Modifier",
    "chat.edit_label": "Message modifié",
    "chat.edit_send": "Envoyer",
    "chat.edit_cancel": "Annuler",
    "chat.branch": "Bifurquer d'ici",
    "chat.branch_help": "Une nouvelle discussion qui reprend tout jusqu'ici",
    "chat.branched": (
        "Une nouvelle discussion bifurque de ce message : c'est elle qui est ouverte."
    ),
    "chat.message_gone": "Ce message ne fait plus partie de cette discussion.",
    "chat.link_not_found": (
        "La discussion de ce lien n'existe pas, ou appartient à une autre clé. "
        "Une nouvelle discussion commence ici."
    ),
    "chat.link_invalid": (
        "Ce lien ne désigne aucune discussion. Une nouvelle discussion commence ici."
    ),
    # sessions (sidebar)
    "sessions.title": "Discussions",
    "sessions.none": "Aucune discussion pour l'instant.",
    "sessions.untitled": "Sans titre",
    "sessions.line": "{persona} · {when}",
    "sessions.no_persona": "sans persona",
    "sessions.previous": "Précédentes",
    "sessions.next": "Suivantes",
    "sessions.page": "Page {page} sur {pages}",
    "session.this": "Cette discussion",
    "session.title": "Titre",
    "session.save": "Enregistrer le titre",
    "session.title_empty": "Un titre ne peut pas être vide.",
    "session.renamed": "La discussion a été renommée.",
    "session.export": "Exporter",
    "session.delete": "Supprimer",
    "session.delete_question": "Supprimer définitivement cette discussion ?",
    "session.delete_confirm": "Oui, la supprimer",
    "session.delete_cancel": "Annuler",
    "session.deleted": "La discussion a été supprimée.",
    # personas page
    "personas.title": "Personas",
    "personas.pick": "Persona à modifier",
    "personas.new": "Nouveau persona",
    "personas.private": "Un persona privé : seules les clés de son propriétaire le voient.",
    "personas.field.name": "Nom",
    "personas.field.slug": "Identifiant (slug)",
    "personas.field.base_prompt": "Prompt de base",
    "personas.field.greeting": "Message d'accueil",
    "personas.field.age": "Âge",
    "personas.field.tone": "Ton",
    "personas.field.humor": "Humour",
    "personas.field.favorite_expressions": "Expressions favorites",
    "personas.field.interests": "Centres d'intérêt",
    "personas.field.forbidden_topics": "Sujets interdits",
    "personas.field.emoji_usage": "Usage des emojis",
    "personas.field.message_style": "Style des messages",
    "personas.field.appearance": "Apparence",
    "personas.field.example_dialogue": "Exemple de dialogue",
    "personas.field.locale": "Langue",
    "personas.help.slug": ("Minuscules, chiffres et tirets ; tiré du nom s'il est vide."),
    "personas.help.favorite_expressions": "Une par ligne.",
    "personas.help.interests": "Un par ligne.",
    "personas.help.forbidden_topics": "Un par ligne.",
    "personas.help.appearance": (
        "Une ligne « clé: valeur » par trait ; « avatar » peut être un emoji ou l'URL d'une image."
    ),
    "personas.default_traits": "Curseurs par défaut",
    "personas.save": "Enregistrer",
    "personas.saved": "{name} a été enregistré.",
    "personas.name_required": "Un persona doit avoir un nom.",
    "personas.bad_appearance": (
        "Cette ligne d'apparence n'est pas de la forme « clé: valeur » : {line}"
    ),
    "personas.delete": "Supprimer",
    "personas.delete_question": "Supprimer définitivement le persona {slug} ?",
    "personas.delete_confirm": "Oui, le supprimer",
    "personas.delete_cancel": "Annuler",
    "personas.deleted": "Le persona {slug} a été supprimé.",
    "personas.preview": "Prompt système compilé",
    "personas.preview_tokens": (
        "Environ {tokens} tokens, pour la fiche enregistrée et les curseurs ci-dessus."
    ),
    # usage page
    "usage.title": "Consommation",
    "usage.who": "Clé {name} ({prefix}) · droits : {scopes} · propriétaire : {owner}",
    "usage.scope": "Consommation de",
    "usage.scope_own": "cette clé",
    "usage.scope_all": "toutes les clés",
    "usage.period": "Les {days} derniers jours (UTC).",
    "usage.requests": "Requêtes",
    "usage.prompt_tokens": "Tokens du prompt",
    "usage.completion_tokens": "Tokens de la réponse",
    "usage.total_tokens": "Tokens au total",
    "usage.day": "Jour",
    "usage.persona": "Persona",
    "usage.no_persona": "(sans persona)",
    "usage.none": "Aucune consommation sur cette période.",
    "usage.per_day": "Par jour",
    "usage.per_persona": "Par persona",
    # problems with the gateway
    "problem.unreachable": "La passerelle est injoignable à {url}. Est-elle démarrée ?",
    "problem.unreachable_timeout": "La passerelle à {url} n'a pas répondu à temps.",
    "problem.upstream": (
        "Le serveur d'inférence ne répond pas pour l'instant. Réessayez dans un moment."
    ),
    "problem.rate_limited": "Trop de requêtes : attendez {seconds} s puis réessayez.",
    "problem.rate_limited_unknown": "Trop de requêtes : attendez un moment puis réessayez.",
    "problem.too_long": "Le message est trop long pour la passerelle.",
    "problem.unauthorized": "La clé d'API a été refusée par la passerelle.",
    "problem.forbidden": "Cette clé d'API n'a pas le droit de faire cela.",
    "problem.gone": "La passerelle ne connaît pas cet élément ; il a peut-être été supprimé.",
    "problem.invalid": "La passerelle a refusé la requête.",
    "problem.conflict": "Cela entre en conflit avec ce qui existe déjà.",
    "problem.unavailable": (
        "La passerelle ne peut pas traiter cela pour l'instant. Réessayez dans un moment."
    ),
    "problem.cut_off": "La réponse s'est arrêtée avant la fin : la connexion a été perdue.",
    "problem.unexpected": "La passerelle a échoué de façon inattendue.",
}

LANGUAGES: Mapping[str, Mapping[str, str]] = MappingProxyType({"en": EN, "fr": FR})


def texts_for(language: str) -> Mapping[str, str]:
    """The page's words in `language` ("en" or "fr")."""
    return MappingProxyType(LANGUAGES[language])
