from django.contrib.auth import views as auth_views
from django.urls import include, path, reverse_lazy

from meterdesk import converters  # noqa: F401 - registers <text:…>
from meterdesk.backoffice import billing_views, residents_views, stats_views, support_views, views
from meterdesk.backoffice.forms import StaffLoginForm

app_name = "backoffice"

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="backoffice/login.html",
            authentication_form=StaffLoginForm,
            next_page=reverse_lazy("backoffice:home"),
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page=reverse_lazy("backoffice:login")), name="logout"),
    path("accounts/<text:number>/", views.account, name="account"),
    path("accounts/<text:number>/changes/", views.changes, name="changes"),
    path("accounts/<text:number>/correct/", views.correct, name="correct"),
    path("accounts/<text:number>/readings/new/", views.reading_new, name="reading_new"),
    path("readings/batch/", views.reading_batch, name="reading_batch"),
    path("readings/<text:confirmation>/", views.reading, name="reading"),
    path("support/", support_views.support_queue, name="support_queue"),
    path("support/escalated/", support_views.support_escalated, name="support_escalated"),
    path("support/<int:thread_id>/", support_views.support_thread, name="support_thread"),
    path("support/<int:thread_id>/answer/", support_views.support_answer, name="support_answer"),
    path("support/<int:thread_id>/note/", support_views.support_note, name="support_note"),
    path("support/<int:thread_id>/assign/", support_views.support_assign, name="support_assign"),
    path("support/<int:thread_id>/status/", support_views.support_status, name="support_status"),
    path("support/files/<int:attachment_id>/", support_views.support_file, name="support_file"),
    path("stats/", stats_views.stats, name="stats"),
    path("stats/<slug:table>.csv", stats_views.stats_csv, name="stats_csv"),
    path("billing/", billing_views.billing_runs, name="billing_runs"),
    path("billing/close/", billing_views.billing_close_start, name="billing_close"),
    path("billing/<text:month>/", billing_views.billing_run, name="billing_run"),
    path("accounts/<text:number>/rebill/", billing_views.rebill_account, name="rebill"),
    path("accounts/<text:number>/residents/", residents_views.residents, name="residents"),
    path("inspections/", include("meterdesk.backoffice.inspection_urls")),
    path("reference/", include("meterdesk.backoffice.reference_urls")),
    path("services/", include("meterdesk.backoffice.order_urls")),
    path("debts/", include("meterdesk.backoffice.debt_urls")),
]
