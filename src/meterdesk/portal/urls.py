from django.contrib.auth import views as auth_views
from django.urls import path, re_path, reverse_lazy

from meterdesk.converters import TEXT
from meterdesk.portal import registration, views
from meterdesk.portal.forms import LoginForm, PasswordChangeForm, SetPasswordForm

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("cabinet/", views.dashboard, name="dashboard"),
    path("register/", registration.register, name="register"),
    path("register/sent/", registration.register_sent, name="register_sent"),
    path("register/confirm/<text:uidb64>/<text:token>/", registration.verify_email, name="verify_email"),
    path("register/resend/", registration.verify_resend, name="verify_resend"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="portal/login.html", authentication_form=LoginForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/change/",
        auth_views.PasswordChangeView.as_view(
            template_name="portal/password_change.html",
            form_class=PasswordChangeForm,
            success_url=reverse_lazy("portal:password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="portal/password_change_done.html"),
        name="password_change_done",
    ),
    path(
        "password/reset/",
        auth_views.PasswordResetView.as_view(
            template_name="portal/password_reset.html",
            email_template_name="portal/email/password_reset.txt",
            subject_template_name="portal/email/password_reset_subject.txt",
            success_url=reverse_lazy("portal:password_reset_done"),
        ),
        name="password_reset",
    ),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="portal/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<text:uidb64>/<text:token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="portal/password_reset_confirm.html",
            form_class=SetPasswordForm,
            success_url=reverse_lazy("portal:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/complete/",
        auth_views.PasswordResetCompleteView.as_view(template_name="portal/password_reset_complete.html"),
        name="password_reset_complete",
    ),
    path("accounts/link/", registration.link_account, name="link_account"),
    path("accounts/undo/<text:token>/", registration.undo_link, name="link_undo"),
    path("accounts/<text:number>/logins/", registration.logins, name="logins"),
    path("accounts/<text:number>/history/", views.history, name="history"),
    path("accounts/<text:number>/statements/", views.statements, name="statements"),
    re_path(
        rf"^accounts/(?P<number>{TEXT})/statements/(?P<period>[0-9]{{4}}-[0-9]{{2}})/$",
        views.statement_detail,
        name="statement",
    ),
    path("meters/<int:meter_id>/readings/new/", views.submit_reading, name="submit_reading"),
    path("readings/<text:confirmation>/", views.reading_detail, name="reading"),
]
