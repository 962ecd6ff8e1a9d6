"""The wording of the candidate status page in English, German, French and Spanish.

Plain text only: the templates escape every string (and every value put into one), so a job title
or a name can never become markup. Placeholders are `str.format` fields. German, French and Spanish
use the polite form (Sie / vous / usted): the page speaks for an employer to someone it has not hired.
"""

from __future__ import annotations

from typing import Callable, Iterable

DEFAULT_LANGUAGE = "en"

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "page_title": "Your application – {org}",
        "heading": "Your application",
        "greeting": "Hello {name},",
        "greeting_anonymous": "Hello,",
        "job_at_org": "{job} at {org}",
        "application_at_org": "Your application at {org}",
        "now_heading": "Where things stand",
        "badge_in_review": "In review",
        "badge_offer": "Offer",
        "badge_rejected": "Decision made",
        "badge_closed": "Position closed",
        "badge_withdrawn": "Withdrawn",
        "state_in_review": "The hiring team is reviewing your application. Thank you for your patience.",
        "next_date_label": "You will hear from us by",
        "next_date_soon": "You will hear from us very soon.",
        "next_date_none": "We will be in touch as soon as there is news.",
        "state_offer": "Congratulations! The hiring team has made you an offer. They will contact you "
                       "directly about the next steps.",
        "state_rejected": "Thank you for the time you gave us. The hiring team has decided not to continue "
                          "with your application. We wish you every success.",
        "state_closed": "This position has been closed or filled, so your application will not go further. "
                        "Thank you for your interest and your time.",
        "state_withdrawn": "You withdrew your application on {date}.",
        "state_withdrawn_more": "The hiring team knows. You will not receive further messages about this "
                                "application.",
        "stages_heading": "Your interviews so far",
        "stage_done": "Completed",
        "stage_default": "Interview",
        "withdraw_heading": "Changed your mind?",
        "withdraw_intro": "If you no longer wish to be considered for this position, you can withdraw "
                          "your application here.",
        "withdraw_button": "Withdraw my application",
        "confirm_title": "Withdraw your application?",
        "confirm_intro": "You are about to withdraw your application for {job} at {org}.",
        "confirm_intro_no_job": "You are about to withdraw your application at {org}.",
        "confirm_what_happens": "What happens if you withdraw:",
        "confirm_point_team": "The hiring team will be told right away.",
        "confirm_point_messages": "You will not receive further messages about this application.",
        "confirm_point_final": "This cannot be undone from here. If you change your mind later, reply to "
                               "any of our emails.",
        "confirm_button": "Yes, withdraw my application",
        "keep_button": "No, keep my application",
        "footer_private": "This page is private to you.",
        "footer_sent_by": "Sent on behalf of {org} by Ghostless.",
        "footer_sent_by_anonymous": "Sent by Ghostless.",
        "invalid_title": "This link is not valid",
        "invalid_body": "Please check that you opened the whole link from our email. If it still does not "
                        "work, reply to any of our emails and we will help you.",
        "expired_title": "This link has expired",
        "expired_body": "For your privacy, status links only work for a limited time. Reply to any of our "
                        "emails and we will tell you where things stand.",
        "gone_title": "This page is no longer available",
        "gone_body": "The information about this application has been removed.",
        "csrf_title": "Please try again",
        "csrf_body": "This form was incomplete or has expired, so nothing was changed. Go back to your "
                     "status page and try once more.",
        "back_link": "Back to your status page",
        "error_title": "This page is temporarily unavailable",
        "error_body": "Nothing is wrong with your application. Please try again in a few minutes.",
    },
    "de": {
        "page_title": "Ihre Bewerbung – {org}",
        "heading": "Ihre Bewerbung",
        "greeting": "Hallo {name},",
        "greeting_anonymous": "Hallo,",
        "job_at_org": "{job} bei {org}",
        "application_at_org": "Ihre Bewerbung bei {org}",
        "now_heading": "Der aktuelle Stand",
        "badge_in_review": "In Prüfung",
        "badge_offer": "Angebot",
        "badge_rejected": "Entscheidung gefallen",
        "badge_closed": "Stelle geschlossen",
        "badge_withdrawn": "Zurückgezogen",
        "state_in_review": "Das Recruiting-Team prüft Ihre Bewerbung. Vielen Dank für Ihre Geduld.",
        "next_date_label": "Sie hören von uns bis spätestens",
        "next_date_soon": "Sie hören in Kürze von uns.",
        "next_date_none": "Wir melden uns, sobald es Neuigkeiten gibt.",
        "state_offer": "Herzlichen Glückwunsch! Das Recruiting-Team hat Ihnen ein Angebot gemacht und "
                       "meldet sich direkt bei Ihnen wegen der nächsten Schritte.",
        "state_rejected": "Vielen Dank für die Zeit, die Sie sich für uns genommen haben. Das "
                          "Recruiting-Team hat entschieden, Ihre Bewerbung nicht weiterzuverfolgen. Wir "
                          "wünschen Ihnen alles Gute.",
        "state_closed": "Diese Stelle wurde geschlossen oder besetzt, daher wird Ihre Bewerbung nicht "
                        "weiterverfolgt. Vielen Dank für Ihr Interesse und Ihre Zeit.",
        "state_withdrawn": "Sie haben Ihre Bewerbung am {date} zurückgezogen.",
        "state_withdrawn_more": "Das Recruiting-Team ist informiert. Sie erhalten zu dieser Bewerbung "
                                "keine weiteren Nachrichten.",
        "stages_heading": "Ihre bisherigen Gespräche",
        "stage_done": "Abgeschlossen",
        "stage_default": "Gespräch",
        "withdraw_heading": "Haben Sie es sich anders überlegt?",
        "withdraw_intro": "Wenn Sie für diese Stelle nicht mehr berücksichtigt werden möchten, können "
                          "Sie Ihre Bewerbung hier zurückziehen.",
        "withdraw_button": "Bewerbung zurückziehen",
        "confirm_title": "Bewerbung zurückziehen?",
        "confirm_intro": "Sie sind dabei, Ihre Bewerbung als {job} bei {org} zurückzuziehen.",
        "confirm_intro_no_job": "Sie sind dabei, Ihre Bewerbung bei {org} zurückzuziehen.",
        "confirm_what_happens": "Was passiert, wenn Sie Ihre Bewerbung zurückziehen:",
        "confirm_point_team": "Das Recruiting-Team wird sofort informiert.",
        "confirm_point_messages": "Sie erhalten zu dieser Bewerbung keine weiteren Nachrichten.",
        "confirm_point_final": "Das lässt sich hier nicht rückgängig machen. Wenn Sie es sich später "
                               "anders überlegen, antworten Sie einfach auf eine unserer E-Mails.",
        "confirm_button": "Ja, Bewerbung zurückziehen",
        "keep_button": "Nein, Bewerbung behalten",
        "footer_private": "Diese Seite ist nur für Sie bestimmt.",
        "footer_sent_by": "Im Auftrag von {org} gesendet von Ghostless.",
        "footer_sent_by_anonymous": "Gesendet von Ghostless.",
        "invalid_title": "Dieser Link ist ungültig",
        "invalid_body": "Bitte prüfen Sie, ob Sie den vollständigen Link aus unserer E-Mail geöffnet "
                        "haben. Wenn es weiterhin nicht klappt, antworten Sie auf eine unserer E-Mails – "
                        "wir helfen Ihnen gern.",
        "expired_title": "Dieser Link ist abgelaufen",
        "expired_body": "Zum Schutz Ihrer Daten sind Status-Links nur begrenzte Zeit gültig. Antworten "
                        "Sie auf eine unserer E-Mails, dann teilen wir Ihnen den aktuellen Stand mit.",
        "gone_title": "Diese Seite ist nicht mehr verfügbar",
        "gone_body": "Die Angaben zu dieser Bewerbung wurden gelöscht.",
        "csrf_title": "Bitte versuchen Sie es erneut",
        "csrf_body": "Das Formular war unvollständig oder ist abgelaufen, daher wurde nichts geändert. "
                     "Gehen Sie zurück zu Ihrer Statusseite und versuchen Sie es noch einmal.",
        "back_link": "Zurück zu Ihrer Statusseite",
        "error_title": "Diese Seite ist vorübergehend nicht erreichbar",
        "error_body": "Mit Ihrer Bewerbung ist alles in Ordnung. Bitte versuchen Sie es in ein paar "
                      "Minuten erneut.",
    },
    "fr": {
        "page_title": "Votre candidature – {org}",
        "heading": "Votre candidature",
        "greeting": "Bonjour {name},",
        "greeting_anonymous": "Bonjour,",
        "job_at_org": "{job} chez {org}",
        "application_at_org": "Votre candidature chez {org}",
        "now_heading": "Où en est votre candidature",
        "badge_in_review": "En cours d’examen",
        "badge_offer": "Offre",
        "badge_rejected": "Décision prise",
        "badge_closed": "Poste clôturé",
        "badge_withdrawn": "Retirée",
        "state_in_review": "L’équipe de recrutement examine votre candidature. Merci de votre patience.",
        "next_date_label": "Vous aurez de nos nouvelles au plus tard le",
        "next_date_soon": "Vous aurez très bientôt de nos nouvelles.",
        "next_date_none": "Nous reviendrons vers vous dès qu’il y aura du nouveau.",
        "state_offer": "Félicitations ! L’équipe de recrutement vous a fait une offre. Elle vous "
                       "contactera directement pour la suite.",
        "state_rejected": "Merci pour le temps que vous nous avez consacré. L’équipe de recrutement a "
                          "décidé de ne pas donner suite à votre candidature. Nous vous souhaitons "
                          "beaucoup de succès.",
        "state_closed": "Ce poste a été clôturé ou pourvu ; votre candidature ne sera donc pas poursuivie. "
                        "Merci pour votre intérêt et votre temps.",
        "state_withdrawn": "Vous avez retiré votre candidature le {date}.",
        "state_withdrawn_more": "L’équipe de recrutement est informée. Vous ne recevrez plus de messages "
                                "concernant cette candidature.",
        "stages_heading": "Vos entretiens jusqu’ici",
        "stage_done": "Terminé",
        "stage_default": "Entretien",
        "withdraw_heading": "Vous avez changé d’avis ?",
        "withdraw_intro": "Si vous ne souhaitez plus être considéré·e pour ce poste, vous pouvez retirer "
                          "votre candidature ici.",
        "withdraw_button": "Retirer ma candidature",
        "confirm_title": "Retirer votre candidature ?",
        "confirm_intro": "Vous êtes sur le point de retirer votre candidature au poste {job} chez {org}.",
        "confirm_intro_no_job": "Vous êtes sur le point de retirer votre candidature chez {org}.",
        "confirm_what_happens": "Ce qui se passe si vous la retirez :",
        "confirm_point_team": "L’équipe de recrutement en sera informée immédiatement.",
        "confirm_point_messages": "Vous ne recevrez plus de messages concernant cette candidature.",
        "confirm_point_final": "Cette action ne peut pas être annulée ici. Si vous changez d’avis, "
                               "répondez à l’un de nos e-mails.",
        "confirm_button": "Oui, retirer ma candidature",
        "keep_button": "Non, garder ma candidature",
        "footer_private": "Cette page vous est réservée.",
        "footer_sent_by": "Envoyé pour le compte de {org} par Ghostless.",
        "footer_sent_by_anonymous": "Envoyé par Ghostless.",
        "invalid_title": "Ce lien n’est pas valide",
        "invalid_body": "Vérifiez que vous avez bien ouvert le lien complet de notre e-mail. Si cela ne "
                        "fonctionne toujours pas, répondez à l’un de nos e-mails et nous vous aiderons.",
        "expired_title": "Ce lien a expiré",
        "expired_body": "Pour protéger vos données, les liens de suivi ne sont valables que pendant une "
                        "durée limitée. Répondez à l’un de nos e-mails et nous vous dirons où en est "
                        "votre candidature.",
        "gone_title": "Cette page n’est plus disponible",
        "gone_body": "Les informations concernant cette candidature ont été supprimées.",
        "csrf_title": "Veuillez réessayer",
        "csrf_body": "Le formulaire était incomplet ou a expiré ; rien n’a été modifié. Revenez à votre "
                     "page de suivi et réessayez.",
        "back_link": "Retour à votre page de suivi",
        "error_title": "Cette page est momentanément indisponible",
        "error_body": "Votre candidature n’est pas concernée. Veuillez réessayer dans quelques minutes.",
    },
    "es": {
        "page_title": "Su candidatura – {org}",
        "heading": "Su candidatura",
        "greeting": "Hola, {name}:",
        "greeting_anonymous": "Hola:",
        "job_at_org": "{job} en {org}",
        "application_at_org": "Su candidatura en {org}",
        "now_heading": "En qué punto está",
        "badge_in_review": "En revisión",
        "badge_offer": "Oferta",
        "badge_rejected": "Decisión tomada",
        "badge_closed": "Puesto cerrado",
        "badge_withdrawn": "Retirada",
        "state_in_review": "El equipo de selección está revisando su candidatura. Gracias por su paciencia.",
        "next_date_label": "Tendrá noticias nuestras a más tardar el",
        "next_date_soon": "Tendrá noticias nuestras muy pronto.",
        "next_date_none": "Nos pondremos en contacto con usted en cuanto haya novedades.",
        "state_offer": "¡Enhorabuena! El equipo de selección le ha hecho una oferta y se pondrá en "
                       "contacto con usted directamente para los siguientes pasos.",
        "state_rejected": "Gracias por el tiempo que nos ha dedicado. El equipo de selección ha decidido "
                          "no continuar con su candidatura. Le deseamos mucho éxito.",
        "state_closed": "Este puesto se ha cerrado o cubierto, por lo que su candidatura no seguirá "
                        "adelante. Gracias por su interés y su tiempo.",
        "state_withdrawn": "Retiró su candidatura el {date}.",
        "state_withdrawn_more": "El equipo de selección lo sabe. No recibirá más mensajes sobre esta "
                                "candidatura.",
        "stages_heading": "Sus entrevistas hasta ahora",
        "stage_done": "Completada",
        "stage_default": "Entrevista",
        "withdraw_heading": "¿Ha cambiado de opinión?",
        "withdraw_intro": "Si ya no desea que se le tenga en cuenta para este puesto, puede retirar su "
                          "candidatura aquí.",
        "withdraw_button": "Retirar mi candidatura",
        "confirm_title": "¿Retirar su candidatura?",
        "confirm_intro": "Está a punto de retirar su candidatura al puesto {job} en {org}.",
        "confirm_intro_no_job": "Está a punto de retirar su candidatura en {org}.",
        "confirm_what_happens": "Qué ocurre si la retira:",
        "confirm_point_team": "Se informará de inmediato al equipo de selección.",
        "confirm_point_messages": "No recibirá más mensajes sobre esta candidatura.",
        "confirm_point_final": "Esto no se puede deshacer desde aquí. Si cambia de opinión más adelante, "
                               "responda a cualquiera de nuestros correos.",
        "confirm_button": "Sí, retirar mi candidatura",
        "keep_button": "No, mantener mi candidatura",
        "footer_private": "Esta página es solo para usted.",
        "footer_sent_by": "Enviado en nombre de {org} por Ghostless.",
        "footer_sent_by_anonymous": "Enviado por Ghostless.",
        "invalid_title": "Este enlace no es válido",
        "invalid_body": "Compruebe que ha abierto el enlace completo de nuestro correo. Si sigue sin "
                        "funcionar, responda a cualquiera de nuestros correos y le ayudaremos.",
        "expired_title": "Este enlace ha caducado",
        "expired_body": "Para proteger sus datos, los enlaces de seguimiento solo funcionan durante un "
                        "tiempo limitado. Responda a cualquiera de nuestros correos y le diremos en qué "
                        "punto está su candidatura.",
        "gone_title": "Esta página ya no está disponible",
        "gone_body": "La información sobre esta candidatura se ha eliminado.",
        "csrf_title": "Inténtelo de nuevo",
        "csrf_body": "El formulario estaba incompleto o ha caducado, así que no se ha cambiado nada. "
                     "Vuelva a su página de seguimiento e inténtelo otra vez.",
        "back_link": "Volver a su página de seguimiento",
        "error_title": "Esta página no está disponible en este momento",
        "error_body": "Su candidatura no se ha visto afectada. Inténtelo de nuevo en unos minutos.",
    },
}

LANGUAGES: tuple[str, ...] = tuple(STRINGS)


def base_language(locale: str | None) -> str | None:
    """`de-AT` / `de_at` -> `de` when we have the page in that language; None otherwise."""
    if not locale:
        return None
    base = locale.strip().replace("_", "-").split("-")[0].lower()
    return base if base in STRINGS else None


def pick_language(candidate_locale: str | None, accepted: Iterable[str]) -> str:
    """The candidate's own language first, then the browser's preferences in order, then English."""
    for locale in (candidate_locale, *accepted):
        language = base_language(locale)
        if language is not None:
            return language
    return DEFAULT_LANGUAGE


def translator(language: str) -> Callable[..., str]:
    """`t("key", **values)`: the string in `language` (English when a key is missing), filled in."""
    table = STRINGS.get(language, STRINGS[DEFAULT_LANGUAGE])

    def t(key: str, **values: object) -> str:
        text = table.get(key) or STRINGS[DEFAULT_LANGUAGE][key]
        return text.format(**values) if values else text

    return t
