from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import UserCreationForm
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.generic import CreateView


@method_decorator(login_not_required, name="dispatch")
class SignupView(CreateView):
    """Create an account with Django's UserCreationForm, log it in, go to the index.

    Public: ``LoginRequiredMiddleware`` lets anonymous users reach it.
    """

    form_class = UserCreationForm
    template_name = "registration/signup.html"
    success_url = reverse_lazy("chat:index")

    def form_valid(self, form):
        response = super().form_valid(form)
        login(self.request, self.object)
        return response
