from django import forms
from django.contrib.auth import get_user_model, login
from django.contrib.auth.forms import UserCreationForm
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import FormView


class SignupForm(UserCreationForm):
    email = forms.EmailField(required=True)

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")


class SignupView(FormView):
    """The demo's registration page (a real site has its own, e.g. django-allauth)."""

    template_name = "registration/signup.html"
    form_class = SignupForm

    def get_initial(self):
        return {"email": self.request.GET.get("email", "")}

    def form_valid(self, form):
        user = form.save()
        login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        target = self.request.POST.get("next") or self.request.GET.get("next") or "/messages/"
        if not url_has_allowed_host_and_scheme(target, {self.request.get_host()}):
            target = "/messages/"
        return redirect(target)
