from django.urls import path

from billing.statements.api import views

urlpatterns: list = [
    path("api/v1/billing/statements", views.StatementListView.as_view(), name="billing-statements"),
    path(
        "api/v1/billing/statements/draft", views.StatementDraftView.as_view(), name="billing-statement-draft"
    ),
    path(
        "api/v1/billing/statements/<str:number>.pdf",
        views.StatementPdfView.as_view(),
        name="billing-statement-pdf",
    ),
    path(
        "api/v1/billing/statements/<str:number>",
        views.StatementDetailView.as_view(),
        name="billing-statement",
    ),
    path("api/v1/billing/credit-notes", views.CreditNoteListView.as_view(), name="billing-credit-notes"),
    path(
        "api/v1/billing/credit-notes/<str:number>.pdf",
        views.CreditNotePdfView.as_view(),
        name="billing-credit-note-pdf",
    ),
    path(
        "api/v1/billing/credit-notes/<str:number>",
        views.CreditNoteDetailView.as_view(),
        name="billing-credit-note",
    ),
]
