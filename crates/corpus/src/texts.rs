//! Sentences for synthetic speech, written for this corpus: survey prompts of the kind an IVR
//! plays, and everyday talk of the kind callers and agents produce.

/// A language: its espeak-ng voice name and sentences in it.
#[derive(Debug, Clone, Copy)]
pub struct Language {
    /// espeak-ng voice (language) name.
    pub voice: &'static str,
    /// Sentences, prompts and chatter.
    pub sentences: &'static [&'static str],
}

/// Every language of the corpus.
pub const LANGUAGES: &[Language] = &[
    Language {
        voice: "en-us",
        sentences: &[
            "Thank you for calling. Please stay on the line for a short survey about your call.",
            "On a scale from zero to ten, how likely are you to recommend us to a friend?",
            "Please enter a number from one to five, followed by the pound key.",
            "How easy was it to get your problem solved today?",
            "I was on hold for almost twenty minutes, and then the line went dead.",
            "Could you tell me when the technician is going to arrive tomorrow?",
            "Yes, that's right, the account number ends in four seven two.",
            "Honestly the agent was very patient and explained everything twice.",
            "We are sorry, we did not receive your answer. Let's try that again.",
            "My order arrived yesterday but the box was damaged and one cup was broken.",
            "Hold on a second, I need to find my reading glasses.",
            "Your feedback helps us improve our service. Goodbye.",
        ],
    },
    Language {
        voice: "en-gb",
        sentences: &[
            "Welcome back. Before you go, we'd like to ask you three quick questions.",
            "Press one if your query was resolved, or two if it was not.",
            "Right, so the parcel should have come on Tuesday but it never turned up.",
            "I rang this morning and somebody promised to call me back by noon.",
            "Lovely, thanks ever so much for sorting that out for me.",
            "The weather's been dreadful all week, hasn't it?",
            "Could you spell the postcode for me once more, please?",
            "We'll send a confirmation by text message within the hour.",
            "Sorry, I didn't catch that. Could you say it again more slowly?",
            "How satisfied were you with the advisor you spoke to today?",
        ],
    },
    Language {
        voice: "nl",
        sentences: &[
            "Bedankt voor uw telefoontje. Wilt u meedoen aan een korte enquête?",
            "Hoe waarschijnlijk is het dat u ons aanbeveelt aan vrienden of familie?",
            "Toets een cijfer van nul tot tien en sluit af met een hekje.",
            "Ik heb al drie keer gebeld en niemand kon mij verder helpen.",
            "De monteur zou tussen acht en twaalf uur komen, maar hij is er nog niet.",
            "Dat klopt, mijn klantnummer begint met vijf zes.",
            "Ze was heel vriendelijk en heeft alles netjes uitgelegd.",
            "Een ogenblik, ik pak even mijn pasje erbij.",
            "Wij hebben uw antwoord niet ontvangen. Probeer het nog een keer.",
            "Hartelijk dank voor uw tijd en nog een prettige dag.",
        ],
    },
    Language {
        voice: "de",
        sentences: &[
            "Vielen Dank für Ihren Anruf. Bitte bleiben Sie für eine kurze Umfrage in der Leitung.",
            "Wie zufrieden waren Sie insgesamt mit unserem Service?",
            "Bitte geben Sie eine Zahl zwischen eins und fünf ein.",
            "Ich warte jetzt seit zwei Wochen auf meine Rückerstattung.",
            "Der Mitarbeiter hat sich wirklich viel Zeit für mich genommen.",
            "Können Sie mir sagen, wann die Lieferung ungefähr ankommt?",
            "Moment bitte, ich muss kurz die Rechnung suchen.",
            "Das Gerät macht seit gestern so ein komisches Geräusch.",
            "Ihre Eingabe war leider ungültig. Bitte versuchen Sie es erneut.",
            "Auf Wiederhören und einen schönen Tag noch.",
        ],
    },
    Language {
        voice: "fr-fr",
        sentences: &[
            "Merci de votre appel. Restez en ligne pour répondre à une courte enquête.",
            "Sur une échelle de zéro à dix, recommanderiez-vous notre entreprise?",
            "Tapez un chiffre de un à cinq, puis la touche dièse.",
            "J'ai attendu très longtemps avant qu'on me réponde.",
            "La conseillère était très aimable et tout à fait compétente.",
            "Est-ce que vous pouvez me rappeler demain matin vers dix heures?",
            "Attendez, je vais chercher mon numéro de contrat.",
            "Le colis est arrivé ouvert et il manquait une pièce.",
            "Nous n'avons pas compris votre réponse. Veuillez recommencer.",
            "Merci pour votre participation et à bientôt.",
        ],
    },
    Language {
        voice: "es",
        sentences: &[
            "Gracias por su llamada. Le haremos unas breves preguntas sobre la atención recibida.",
            "Del cero al diez, ¿qué probabilidad hay de que nos recomiende?",
            "Marque un número del uno al cinco y después la tecla almohadilla.",
            "Llevo toda la semana intentando hablar con alguien del servicio técnico.",
            "La chica que me atendió fue muy amable y resolvió todo enseguida.",
            "¿Me puede confirmar la dirección de entrega, por favor?",
            "Un momento, que estoy buscando el número de pedido.",
            "No hemos recibido su respuesta. Inténtelo de nuevo.",
            "Muchas gracias por su tiempo. Que tenga un buen día.",
        ],
    },
    Language {
        voice: "it",
        sentences: &[
            "Grazie per aver chiamato. Le chiediamo di rispondere a un breve sondaggio.",
            "Quanto è probabile che consigli i nostri servizi a un amico?",
            "Digiti un numero da uno a cinque seguito dal tasto cancelletto.",
            "Ho aspettato mezz'ora e poi la chiamata è caduta.",
            "L'operatore è stato gentilissimo e molto preciso.",
            "Scusi, può ripetere il codice cliente più lentamente?",
            "Un attimo, prendo la bolletta dal cassetto.",
            "Grazie per la sua collaborazione e arrivederci.",
        ],
    },
    Language {
        voice: "pt-br",
        sentences: &[
            "Obrigado por ligar. Por favor, participe da nossa pesquisa de satisfação.",
            "De zero a dez, qual a chance de você nos recomendar a um amigo?",
            "Digite um número de um a cinco e depois a tecla jogo da velha.",
            "Eu já liguei várias vezes e ninguém resolveu o meu problema.",
            "A atendente foi muito educada e explicou tudo direitinho.",
            "Só um minuto, vou pegar o número do protocolo.",
            "Não recebemos a sua resposta. Tente novamente.",
            "Agradecemos a sua participação. Tenha um ótimo dia.",
        ],
    },
    Language {
        voice: "pl",
        sentences: &[
            "Dziękujemy za telefon. Prosimy o udział w krótkiej ankiecie.",
            "Jak bardzo prawdopodobne jest, że polecisz nas znajomym?",
            "Wybierz cyfrę od jednego do pięciu i zatwierdź krzyżykiem.",
            "Czekałem na połączenie ponad kwadrans.",
            "Konsultant był bardzo uprzejmy i szybko wszystko załatwił.",
            "Proszę chwilę poczekać, szukam numeru umowy.",
            "Dziękujemy i życzymy miłego dnia.",
        ],
    },
    Language {
        voice: "sv",
        sentences: &[
            "Tack för ditt samtal. Vill du svara på några korta frågor?",
            "Hur troligt är det att du skulle rekommendera oss till en vän?",
            "Tryck en siffra mellan ett och fem följt av fyrkant.",
            "Jag har väntat på leveransen i över en vecka nu.",
            "Handläggaren var jättetrevlig och mycket hjälpsam.",
            "Vänta lite, jag ska bara hämta mitt kundnummer.",
            "Tack för din medverkan och ha en bra dag.",
        ],
    },
    Language {
        voice: "cmn-latn-pinyin",
        sentences: &[
            "xie4 xie4 nin2 de lai2 dian4, qing3 can1 jia1 yi1 ge4 jian3 duan3 de diao4 cha2.",
            "qing3 shu1 ru4 ling2 dao4 shi2 zhi1 jian1 de yi1 ge4 shu4 zi4.",
            "wo3 yi3 jing1 deng3 le hen3 jiu3, hai2 mei2 you3 ren2 jie1 dian4 hua4.",
            "ke4 fu2 fei1 chang2 nai4 xin1, bang1 wo3 jie3 jue2 le wen4 ti2.",
            "qing3 shao1 deng3, wo3 zhao3 yi1 xia4 ding4 dan1 hao4 ma3.",
            "gan3 xie4 nin2 de can1 yu3, zhu4 nin2 sheng1 huo2 yu2 kuai4.",
        ],
    },
];
