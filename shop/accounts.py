"""How allauth shows a signed-in customer: by e-mail, the login they know."""


def user_display(user) -> str:
    return user.email or user.get_username()
