from typing import Any

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, path, reverse_lazy
from django.views import View

from meterdesk import converters  # noqa: F401 - registers <text:…> and <month:…>
from meterdesk.portal import profile_views, registration, residents_views, views
from meterdesk.portal.forms import LoginForm, PasswordChangeForm, SetPasswordForm

app_name = "portal"


def _auth_page(route: str, view: type[View], name: str, *, then: str = "", **options: Any) -> URLPattern:
    """One of Django's login and password pages, shown by the template ``portal/<name>.html``;
    after its form, the page named ``then``."""
    if then:
        options["success_url"] = reverse_lazy(f"portal:{then}")
    return path(route, view.as_view(template_name=f"portal/{name}.html", **options), name=name)


urlpatterns = [
    path("", views.home, name="home"),
    path("cabinet/", views.dashboard, name="dashboard"),
    path("register/", registration.register, name="register"),
    path("register/sent/", registration.register_sent, name="register_sent"),
    path("register/confirm/<text:uidb64>/<text:token>/", registration.verify_email, name="verify_email"),
    path("register/resend/", registration.verify_resend, name="verify_resend"),
    _auth_page(
        "login/",
        auth_views.LoginView,
        "login",
        authentication_form=LoginForm,
        redirect_authenticated_user=True,
    ),
    path("logout/", profile_views.LogoutView.as_view(), name="logout"),
    _auth_page(
        "password/change/",
        auth_views.PasswordChangeView,
        "password_change",
        then="password_change_done",
        form_class=PasswordChangeForm,
    ),
    _auth_page("password/change/done/", auth_views.PasswordChangeDoneView, "password_change_done"),
    _auth_page(
        "password/reset/",
        auth_views.PasswordResetView,
        "password_reset",
        then="password_reset_done",
        email_template_name="portal/email/password_reset.txt",
        subject_template_name="portal/email/password_reset_subject.txt",
    ),
    _auth_page("password/reset/sent/", auth_views.PasswordResetDoneView, "password_reset_done"),
    _auth_page(
        "password/reset/<text:uidb64>/<text:token>/",
        auth_views.PasswordResetConfirmView,
        "password_reset_confirm",
        then="password_reset_complete",
        form_class=SetPasswordForm,
    ),
    _auth_page("password/reset/complete/", auth_views.PasswordResetCompleteView, "password_reset_complete"),
    path("profile/", profile_views.profile, name="profile"),
    path("profile/phones/", profile_views.phone_add_view, name="phone_add"),
    path("profile/phones/<int:phone_id>/remove/", profile_views.phone_remove_view, name="phone_remove"),
    path("profile/language/", profile_views.language_view, name="language"),
    path("profile/email/", profile_views.email_change, name="email_change"),
    path("profile/email/confirm/<text:token>/", profile_views.email_confirm, name="email_confirm"),
    path("profile/consent/", profile_views.consent_view, name="consent"),
    path("accounts/link/", registration.link_account, name="link_account"),
    path("accounts/undo/<text:token>/", registration.undo_link, name="link_undo"),
    path("accounts/<text:number>/logins/", registration.logins, name="logins"),
    path("accounts/<text:number>/history/", views.history, name="history"),
    path("accounts/<text:number>/residents/", residents_views.residents, name="residents"),
    path("accounts/<text:number>/statements/", views.statements, name="statements"),
    path("accounts/<text:number>/statements/<month:period>/", views.statement_detail, name="statement"),
    path("meters/<int:meter_id>/readings/new/", views.submit_reading, name="submit_reading"),
    path("meters/<int:meter_id>/readings/preview/", views.reading_preview, name="reading_preview"),
    path("readings/<text:confirmation>/", views.reading_detail, name="reading"),
]
