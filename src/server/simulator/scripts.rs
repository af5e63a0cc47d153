//! Travel-booking conversations the simulator plays. Written as a contact
//! centre's calls sound: greetings, verification, back-and-forth, numbers.

use crate::model::Speaker::{self, Agent, Customer};

pub struct Script {
    pub title: &'static str,
    pub lines: &'static [(Speaker, &'static str)],
}

pub const SCRIPTS: &[Script] = &[
    Script {
        title: "Change a flight",
        lines: &[
            (Agent, "Thank you for calling TravoIQ, my name is Priya. How can I help you today?"),
            (Customer, "Hi Priya, I need to change my flight to Denver. Something came up at work."),
            (Agent, "I'm sorry to hear that. Could I have your booking reference, please?"),
            (Customer, "Sure, it's Q as in Quebec, seven, X, M, two, L."),
            (Agent, "Thank you. I see a flight from Boston to Denver on March fourteenth at eight fifteen in the morning."),
            (Customer, "That's the one. Is there anything on the sixteenth instead?"),
            (Agent, "On the sixteenth I have a nine forty departure arriving at twelve thirty local time, or a two o'clock that lands at five."),
            (Customer, "The nine forty works. What's the change fee?"),
            (Agent, "Your fare includes one free change, so there's only a fare difference of thirty two dollars."),
            (Customer, "Okay, that's fine. Please go ahead and use the card on file."),
            (Agent, "Done. Your new confirmation has been sent to your email. Is there anything else I can help with?"),
            (Customer, "No, that's everything. Thanks so much."),
            (Agent, "You're welcome. Have a great trip to Denver!"),
        ],
    },
    Script {
        title: "Hotel booking",
        lines: &[
            (Agent, "Good afternoon, TravoIQ reservations, this is Marco speaking."),
            (Customer, "Hello, I'd like to book a hotel in Lisbon for a long weekend."),
            (Agent, "Lovely choice. Which dates are you looking at?"),
            (Customer, "Arriving Friday the ninth of May and leaving Monday the twelfth."),
            (Agent, "How many guests, and do you have a neighbourhood in mind?"),
            (Customer, "Two adults. Somewhere near the old town, Alfama if possible, walking distance to restaurants."),
            (Agent, "I have a boutique hotel in Alfama with a river view room at one hundred and eighty nine euros per night, breakfast included."),
            (Customer, "That sounds great. Is the cancellation free?"),
            (Agent, "Yes, free cancellation until forty eight hours before arrival."),
            (Customer, "Perfect, let's book it."),
            (Agent, "Can I have the name for the reservation?"),
            (Customer, "Ana Ferreira, F E R R E I R A."),
            (Agent, "Thank you, Ms Ferreira. You're confirmed for three nights. Enjoy Lisbon!"),
        ],
    },
    Script {
        title: "Lost baggage",
        lines: &[
            (Agent, "Thanks for calling TravoIQ support, you're speaking with Dana. What can I do for you?"),
            (Customer, "My suitcase didn't arrive. I landed in Chicago two hours ago and the carousel is empty."),
            (Agent, "I'm really sorry about that. Do you have the baggage tag number? It's on the sticker they gave you at check-in."),
            (Customer, "Yes, it's U A four four one nine eight two."),
            (Agent, "Thank you. The bag was scanned in Newark but missed the connection. It's booked on the next flight, landing at seven tonight."),
            (Customer, "Seven? I have a meeting first thing tomorrow and my suit is in there."),
            (Agent, "I understand. We can deliver it to your hotel tonight, free of charge. What's the address?"),
            (Customer, "The Palmer House, on East Monroe Street."),
            (Agent, "Got it. You'll get a text with the courier's tracking link. You can also claim up to one hundred dollars for essentials."),
            (Customer, "Okay, that helps. Thank you, Dana."),
            (Agent, "Of course. I've added a note to your file. Anything else?"),
            (Customer, "No, that's all."),
        ],
    },
    Script {
        title: "Car rental and refund",
        lines: &[
            (Agent, "TravoIQ, good morning, this is Sam. How may I help?"),
            (Customer, "Morning. I was charged twice for a car rental in Phoenix last week."),
            (Agent, "Let me take a look. Can you confirm the email address on the booking?"),
            (Customer, "It's j dot okafor at example dot com."),
            (Agent, "Thanks, Mr Okafor. I see two charges of two hundred and fourteen dollars on the eighteenth."),
            (Customer, "Right, and I only rented one car. This is the second time, so if it isn't sorted today I want to speak to a manager, and I want my refund."),
            (Agent, "You're right, the second one is a duplicate authorisation. I've released it; it should disappear within three to five business days."),
            (Customer, "Will I get an email confirming that?"),
            (Agent, "Yes, the refund confirmation is on its way now, with the reference R F nine zero three one."),
            (Customer, "Great. Also, can I add a second driver for my rental next month?"),
            (Agent, "Absolutely. The second driver is twelve dollars a day, or free if it's a spouse or partner."),
            (Customer, "It's my wife, so free then. Her name is Grace Okafor."),
            (Agent, "Added. Is there anything else today?"),
            (Customer, "That's it, thank you."),
        ],
    },
    Script {
        title: "Cancellation for illness",
        lines: &[
            (Agent, "Hello, you've reached TravoIQ. I'm Lee. How can I help?"),
            (Customer, "Hi. I have to cancel a cruise package. I'm not well and my doctor says I shouldn't travel."),
            (Agent, "I'm sorry you're unwell. Let's sort this out. What's the booking number?"),
            (Customer, "It's C R U, five six one, zero zero eight."),
            (Agent, "I have it: the Mediterranean cruise departing Barcelona on the second of June, for two passengers."),
            (Customer, "Yes. Did I buy the travel insurance with it?"),
            (Agent, "You did. With a doctor's note, the insurance covers the full cancellation cost, minus a fifty euro excess."),
            (Customer, "Oh, that's a relief. Where do I send the note?"),
            (Agent, "I'll email you a secure upload link. Once it's in, claims usually take about ten days."),
            (Customer, "Okay. And my partner's ticket is cancelled too?"),
            (Agent, "Yes, both passengers are covered. I've started the cancellation now. I hope you feel better soon."),
            (Customer, "Thank you, you've been very kind."),
        ],
    },
];
