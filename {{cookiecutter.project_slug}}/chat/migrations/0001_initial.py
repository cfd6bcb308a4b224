from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Message",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("room", models.CharField(max_length=64)),
                ("text", models.TextField()),
                ("author", models.CharField(max_length=150)),
                ("created", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "indexes": [
                    models.Index(fields=["room", "id"], name="chat_message_room_id"),
                    models.Index(fields=["created"], name="chat_message_created"),
                ],
            },
        ),
    ]
